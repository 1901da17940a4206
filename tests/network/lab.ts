// A throw-away network lab for tests and benchmarks: a temp state root, a unique kernel-name
// prefix, random private subnets, "containers" that are named netns with busybox processes in them,
// and a cleanup that removes everything and then checks nothing is left.
import { afterEach, expect } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { createNamedNetns, openNetworks, removeNamedNetns, type NetworkManager, type OpenOptions } from "../../src/network/index.ts";
import { tableExists } from "../../src/network/nft.ts";
import { hostPortBusy } from "../../src/network/ports.ts";
import { hostRoutes, overlaps, parseSubnet } from "../../src/network/cidr.ts";

export interface Ctr {
  id: string;
  ns: string;
  netnsPath: string;
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
function rnd(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}
export function randInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** A /24 in 10.200.0.0-10.249.255.0 that no host route (other test runs' bridges included) covers. */
export function freeSubnet(taken: string[] = []): string {
  for (;;) {
    const s = `10.${randInt(200, 249)}.${randInt(0, 255)}.0/24`;
    const sub = parseSubnet(s);
    const routes = hostRoutes(readFileSync("/proc/net/route", "utf8"));
    if (!routes.some((r) => overlaps(r, sub)) && !taken.some((t) => overlaps(parseSubnet(t), sub))) return s;
  }
}

/** A TCP port nobody on the host listens on, in a range tests draw from. */
export function freePort(lo = 20000, hi = 29999): number {
  for (;;) {
    const p = randInt(lo, hi);
    if (!hostPortBusy(p, "tcp")) return p;
  }
}

export class Lab {
  readonly prefix = "t" + rnd(5);
  readonly root = mkdtempSync(`${tmpdir()}/berth-net-`);
  /** Container files on tmpfs, as in production (/run/berth). */
  readonly runDir = mkdtempSync("/run/berth-test-");
  readonly mgr: NetworkManager;
  readonly ctrs: Ctr[] = [];
  private readonly procs: Bun.Subprocess[] = [];
  private readonly extraLinks: string[] = [];

  constructor(opts: OpenOptions = {}) {
    this.mgr = openNetworks(this.root, { namePrefix: this.prefix, defaultSubnet: freeSubnet(), subnetPool: "10.250.0.0/16", runDir: this.runDir, ...opts });
  }

  /** A fake container: a named netns (lo down, nothing else) identified by a random id. */
  container(): Ctr {
    const id = rnd(12) + rnd(52);
    const ns = `${this.prefix}-${rnd(6)}`;
    const netnsPath = createNamedNetns(ns);
    const c = { id, ns, netnsPath };
    this.ctrs.push(c);
    return c;
  }

  /** busybox httpd on :port inside the container (one connection per request), serving a page that names it. */
  async httpd(c: Ctr, port = 80, body = `hello from ${c.id.slice(0, 12)}\n`): Promise<void> {
    const www = `${this.root}/www-${c.ns}`;
    await Bun.write(`${www}/index.html`, body);
    const p = Bun.spawn(["nsenter", `--net=${c.netnsPath}`, "busybox", "httpd", "-f", "-p", String(port), "-h", www], { stdout: "ignore", stderr: "pipe" });
    this.procs.push(p);
    await this.waitListening(p.pid, port, `busybox httpd in ${c.ns}`);
  }

  /** A keep-alive HTTP server (Bun.serve) on :port inside the container, for data-path throughput. */
  async keepAliveServer(c: Ctr, port: number, body: string): Promise<void> {
    const code = `Bun.serve({ hostname: "0.0.0.0", port: ${port}, fetch: () => new Response(${JSON.stringify(body)}) });`;
    const p = Bun.spawn(["nsenter", `--net=${c.netnsPath}`, process.execPath, "-e", code], { stdout: "ignore", stderr: "pipe" });
    this.procs.push(p);
    await this.waitListening(p.pid, port, `Bun.serve in ${c.ns}`);
  }

  /** Waits until `pid` listens on TCP `port`: /proc/PID/net/tcp shows the sockets of that process's namespace. */
  private async waitListening(pid: number, port: number, what: string): Promise<void> {
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    for (let i = 0; i < 500; i++) {
      try {
        const tables = readFileSync(`/proc/${pid}/net/tcp`, "utf8") + readFileSync(`/proc/${pid}/net/tcp6`, "utf8");
        if (tables.split("\n").some((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`) && l.trim().split(/\s+/)[3] === "0A")) return;
      } catch {
        // nsenter has not exec'd yet
      }
      await Bun.sleep(10);
    }
    throw new Error(`${what} did not start listening on ${port}`);
  }

  /** A host-side address not on any container network, standing in for "the host's own address". */
  hostAddress(): string {
    const link = `${this.prefix}h`;
    const sub = freeSubnet();
    const ip = sub.replace(/0\/24$/, "1");
    for (const cmd of [["link", "add", link, "type", "bridge"], ["addr", "add", `${ip}/32`, "dev", link], ["link", "set", link, "up"]]) {
      const r = Bun.spawnSync(["ip", ...cmd], { stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`ip ${cmd.join(" ")}: ${r.stderr.toString()}`);
    }
    this.extraLinks.push(link);
    return ip;
  }

  /**
   * wget from inside a container, with its managed /etc/hosts and /etc/resolv.conf bind-mounted in a
   * private mount namespace (tests write resolv.conf with 127.0.0.1 so no lookup leaves the lab).
   * timeout(1), not wget -T: busybox 1.35 wget segfaults with -T.
   */
  fetchFrom(c: Ctr, url: string, files?: { hosts: string; resolvConf: string }, timeoutSec = 5): { ok: boolean; body: string; err: string } {
    const mount = files ? `mount --bind ${files.hosts} /etc/hosts && mount --bind ${files.resolvConf} /etc/resolv.conf && ` : "";
    const r = Bun.spawnSync(["nsenter", `--net=${c.netnsPath}`, "unshare", "--mount", "sh", "-c", `${mount}exec timeout ${timeoutSec} busybox wget -q -O - ${url}`], { stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, body: r.stdout.toString(), err: r.stderr.toString() };
  }

  /** In a container's netns: `ip -o` output. */
  ipIn(c: Ctr, ...args: string[]): string {
    return Bun.spawnSync(["ip", "-n", c.ns, "-o", ...args]).stdout.toString();
  }

  /** Links in the host namespace whose names start with this lab's prefix. */
  leftoverLinks(): string[] {
    return readdirSync("/sys/class/net").filter((n) => n.startsWith(this.prefix));
  }

  leftoverNetns(): string[] {
    return existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(this.prefix)) : [];
  }

  tableExists(): boolean {
    return tableExists(this.prefix);
  }

  /** Removes everything this lab made, then reports what (if anything) is still there. */
  async cleanup(): Promise<string[]> {
    for (const p of this.procs) {
      p.kill(9);
      await p.exited;
    }
    let resetError = "";
    try {
      this.mgr.reset();
    } catch (e) {
      resetError = String(e);
    }
    this.mgr.close();
    for (const c of this.ctrs) removeNamedNetns(c.ns);
    for (const l of this.extraLinks) Bun.spawnSync(["ip", "link", "del", l]);
    rmSync(this.root, { recursive: true, force: true });
    rmSync(this.runDir, { recursive: true, force: true });
    const left = [...this.leftoverLinks(), ...this.leftoverNetns()];
    if (tableExists(this.prefix)) left.push(`nft table ip ${this.prefix}`);
    if (resetError) left.push(resetError);
    return left;
  }
}

/** One lab per test: `const newLab = useLab()` at the top of a test file; after each test the lab
 *  is cleaned up and the test fails if anything was left in the kernel or on disk. */
export function useLab(): () => Lab {
  let lab: Lab | null = null;
  afterEach(async () => {
    if (!lab) return;
    const left = await lab.cleanup();
    lab = null;
    expect(left).toEqual([]);
  });
  return () => (lab = new Lab());
}
