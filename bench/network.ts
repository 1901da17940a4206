// Network benchmark, one run, all in a throw-away lab (own state root, name prefix, subnets):
//  1. setup cost per container: NetworkManager.attach (+ hosts files) over N fresh namespaces,
//     compared with doing the same steps by spawning `ip` (what we avoid);
//  2. publish cost (one atomic nft transaction);
//  3. HTTP throughput with wrk (busybox httpd: a connection per request; Bun.serve: keep-alive):
//     through the published port on 127.0.0.1 and on the gateway address, versus the container's IP
//     directly; reported as ratios.
// Traffic goes only to 127.0.0.1 and to addresses on the lab's own bridge.
//
// Usage: bun bench/network.ts [--containers N] [--seconds S] [--rounds R] [--json FILE]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { closeSync, openSync, readFileSync } from "node:fs";
import { addAddress, addDefaultRoute, delLink, Netlink, newVeth, setUp } from "../src/network/netlink.ts";
import { withNetns } from "../src/network/netns.ts";
import { freePort, freeSubnet, Lab } from "../tests/network/lab.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
const N = Number(arg("--containers", "40"));
const SECONDS = Number(arg("--seconds", "5"));
const jsonOut = arg("--json", "");
const SPAWN_N = Math.min(N, 20);
const ROUNDS = Number(arg("--rounds", "3"));

function stats(xs: number[]): { mean: number; p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

function wrk(url: string): number {
  const r = Bun.spawnSync(["wrk", "-t", "2", "-c", "16", "-d", `${SECONDS}s`, url], { stdout: "pipe", stderr: "pipe" });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout.toString());
  if (!m) throw new Error(`wrk ${url} failed: ${r.stdout.toString()} ${r.stderr.toString()}`);
  return Number(m[1]);
}

const lab = new Lab();
const result: Record<string, unknown> = {};
try {
  const net = lab.mgr.create({ name: "bench", subnet: freeSubnet() });
  const ctrs = Array.from({ length: N }, () => lab.container());
  const kernelOnly = Array.from({ length: N }, () => lab.container());
  const viaIp = Array.from({ length: SPAWN_N }, () => lab.container());

  // Warm-up: first attach pays for module JIT and opening the netlink socket.
  const warm = lab.container();
  lab.mgr.attach({ containerId: warm.id, netnsPath: warm.netnsPath, network: "bench" });
  lab.mgr.detach(warm.id);

  // Interleaved so that load from other processes on this host hits all three paths alike:
  // Berth's attach (+ files), the bare netlink calls it makes (kernel cost), and ip(8) spawns.
  const attachMs: number[] = [];
  const attachFilesMs: number[] = [];
  const kernelMs: number[] = [];
  const spawnMs: number[] = [];
  const nl = new Netlink();
  const bridgeIndex = nl.linkIndex(net.bridge)!;
  const base = net.subnet.replace(/\.0\/24$/, "");
  const berthStep = (i: number): void => {
    const c = ctrs[i]!;
    const t0 = performance.now();
    lab.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "bench", name: `c${i}` });
    const t1 = performance.now();
    lab.mgr.containerFiles(c.id, { hostname: `c${i}`, dns: ["127.0.0.1"] });
    const t2 = performance.now();
    attachMs.push(t1 - t0);
    attachFilesMs.push(t2 - t0);
  };
  const kernelStep = (i: number): void => {
    const k = kernelOnly[i]!;
    const hv = `${lab.prefix}vk${i}`;
    const k0 = performance.now();
    const fd = openSync(k.netnsPath, "r");
    nl.exec([newVeth({ hostName: hv, bridgeIndex, peerName: "eth0", peerNetnsFd: fd })]);
    closeSync(fd);
    const inner = withNetns(k.netnsPath, () => new Netlink());
    const idx = inner.linkIndex("eth0")!;
    inner.exec([setUp(1), setUp(idx), addAddress(idx, `${base}.${100 + i}`, 24), addDefaultRoute(net.gateway, idx)]);
    inner.close();
    kernelMs.push(performance.now() - k0);
  };
  const spawnStep = (i: number): void => {
    if (i >= SPAWN_N) return;
    const s = viaIp[i]!;
    const sv = `${lab.prefix}vs${i}`;
    const s0 = performance.now();
    run(["ip", "link", "add", sv, "master", net.bridge, "up", "type", "veth", "peer", "name", "eth0", "netns", s.ns]);
    run(["ip", "-n", s.ns, "link", "set", "lo", "up"]);
    run(["ip", "-n", s.ns, "link", "set", "eth0", "up"]);
    run(["ip", "-n", s.ns, "addr", "add", `${base}.${200 + i}/24`, "dev", "eth0"]);
    run(["ip", "-n", s.ns, "route", "add", "default", "via", net.gateway]);
    spawnMs.push(performance.now() - s0);
  };
  const orders = [[berthStep, kernelStep, spawnStep], [kernelStep, spawnStep, berthStep], [spawnStep, berthStep, kernelStep]];
  for (let i = 0; i < N; i++) for (const step of orders[i % 3]!) step(i);
  nl.exec([...kernelOnly.map((_, i) => delLink(`${lab.prefix}vk${i}`)), ...viaIp.map((_, i) => delLink(`${lab.prefix}vs${i}`))], [19]);
  nl.close();
  const detachMs: number[] = [];
  for (const c of ctrs.slice(Math.floor(N / 2))) {
    const t0 = performance.now();
    lab.mgr.release(c.id);
    detachMs.push(performance.now() - t0);
  }

  // Throughput: one web container with two servers, both published. busybox httpd closes every
  // connection (so each request pays connection setup + a new conntrack/NAT entry); Bun.serve keeps
  // connections alive (steady-state data path through DNAT).
  const web = ctrs[0]!;
  const webIp = lab.mgr.endpoints(web.id)[0]!.ip;
  const body = "x".repeat(1024);
  await lab.httpd(web, 80, body);
  await lab.keepAliveServer(web, 8081, body);
  const hostPort = freePort();
  const hostPortKa = freePort();
  const tp = performance.now();
  lab.mgr.publish(web.id, [{ hostPort, containerPort: 80, proto: "tcp" }]);
  const publishMs = performance.now() - tp;
  lab.mgr.publish(web.id, [{ hostPort: hostPortKa, containerPort: 8081, proto: "tcp" }]);
  // Rounds alternate the targets; the median of each is reported.
  const targets = {
    conn_direct: `http://${webIp}:80/`,
    conn_published_loopback: `http://127.0.0.1:${hostPort}/`,
    conn_published_gateway: `http://${net.gateway}:${hostPort}/`,
    keepalive_direct: `http://${webIp}:8081/`,
    keepalive_published_loopback: `http://127.0.0.1:${hostPortKa}/`,
    keepalive_published_gateway: `http://${net.gateway}:${hostPortKa}/`,
  };
  const rps: Record<string, number[]> = {};
  // Rotate the order each round: every run leaves ~10^4 conntrack entries behind for the next one.
  const entries = Object.entries(targets);
  for (let r = 0; r < ROUNDS; r++) {
    for (let j = 0; j < entries.length; j++) {
      const [name, url] = entries[(j + r * 2) % entries.length]!;
      (rps[name] ??= []).push(wrk(url));
    }
  }
  const med = Object.fromEntries(Object.entries(rps).map(([k, v]) => [k, stats(v).p50])) as Record<keyof typeof targets, number>;

  const a = stats(attachMs);
  const af = stats(attachFilesMs);
  const k = stats(kernelMs);
  const sp = stats(spawnMs);
  Object.assign(result, {
    containers: N,
    attach_ms: a,
    attach_with_files_ms: af,
    kernel_netlink_only_ms: k,
    iproute2_spawn_ms: sp,
    release_ms: stats(detachMs),
    ratio_attach_vs_kernel_only_p50: a.p50 / k.p50,
    ratio_iproute2_vs_attach_p50: sp.p50 / a.p50,
    publish_ms: publishMs,
    http_rps_p50: med,
    http_ratio_published_vs_direct: {
      new_connection_per_request_loopback: med.conn_published_loopback / med.conn_direct,
      new_connection_per_request_gateway: med.conn_published_gateway / med.conn_direct,
      keepalive_loopback: med.keepalive_published_loopback / med.keepalive_direct,
      keepalive_gateway: med.keepalive_published_gateway / med.keepalive_direct,
    },
    wrk: `-t2 -c16 -d${SECONDS}s x${ROUNDS} rounds, 1 KiB body; busybox httpd (new connection per request) and Bun.serve (keep-alive)`,
    loadavg: readFileSync("/proc/loadavg", "utf8").trim(),
  });
  const f = (n: number) => n.toFixed(2);
  const line = (name: string, x: ReturnType<typeof stats>) => console.log(`  ${name.padEnd(34)} p50 ${f(x.p50)}  mean ${f(x.mean)}  p95 ${f(x.p95)}  max ${f(x.max)} ms`);
  console.log(`setup cost per container (n=${N}, load ${result.loadavg}):`);
  line("attach (veth, addr, route)", a);
  line("attach + hosts/hostname/resolv.conf", af);
  line("same kernel calls, bare netlink", k);
  line(`same steps spawning ip(8) (n=${SPAWN_N})`, sp);
  line("release (detach, files)", stats(detachMs));
  console.log(`  ratios (p50): attach / bare netlink = ${f(a.p50 / k.p50)}, ip(8) spawns / attach = ${f(sp.p50 / a.p50)}`);
  console.log(`publish (one nft transaction): ${f(publishMs)} ms`);
  const r0 = (n: number) => n.toFixed(0);
  console.log(`HTTP req/s (p50 of ${ROUNDS} rounds)            direct   published 127.0.0.1   published gateway`);
  console.log(`  busybox httpd, new connection each   ${r0(med.conn_direct).padStart(6)}   ${r0(med.conn_published_loopback).padStart(6)} (${f(med.conn_published_loopback / med.conn_direct)})     ${r0(med.conn_published_gateway).padStart(6)} (${f(med.conn_published_gateway / med.conn_direct)})`);
  console.log(`  Bun.serve, keep-alive                ${r0(med.keepalive_direct).padStart(6)}   ${r0(med.keepalive_published_loopback).padStart(6)} (${f(med.keepalive_published_loopback / med.keepalive_direct)})     ${r0(med.keepalive_published_gateway).padStart(6)} (${f(med.keepalive_published_gateway / med.keepalive_direct)})`);
  if (jsonOut) {
    mkdirSync(dirname(jsonOut), { recursive: true });
    writeFileSync(jsonOut, JSON.stringify(result, null, 2) + "\n");
  }
} finally {
  const left = await lab.cleanup();
  if (left.length) {
    console.error(`bench cleanup left: ${left.join(", ")}`);
    process.exitCode = 1;
  }
}
