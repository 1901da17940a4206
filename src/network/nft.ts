// Berth's nftables table, rendered whole from the stored state and applied in one nftables
// transaction (flush + re-add of every chain's rules): the kernel sees either the old rules or the
// new ones, never a half-applied set, and re-applying after a crash converges to what the store says.
//
// Design choices:
// - Port publishing is DNAT only (no userland proxy): prerouting for traffic from containers and
//   other hosts, output for the host's own connections; `fib daddr type local` limits it to
//   addresses of this host.
// - 127.0.0.1:PORT works because each publishing bridge has route_localnet=1 (see sysctl.ts) and
//   loopback-sourced packets are masqueraded to the gateway address before they leave on the bridge.
//   route_localnet would also let a container send to 127.0.0.0/8 of the host (CVE-2020-8558);
//   the raw_prerouting chain drops such packets before conntrack sees them.
// - Hairpin (a container reaching a published port via a host address) needs masquerade, or the
//   target would answer the client directly over the bridge with an address it never talked to.
// - Forward policy: same-bridge traffic and published (DNAT-ed) flows are allowed; anything else
//   leaving or entering a Berth bridge is dropped unless the network was created with outbound access.
import { dlopen, FFIType } from "bun:ffi";
import type { PortRow } from "./store.ts";

export interface RulesetNetwork {
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  outbound: boolean;
}

export interface Ruleset {
  table: string;
  networks: RulesetNetwork[];
  ports: PortRow[];
}

const q = (s: string): string => JSON.stringify(s);

/** Base chains: created once, never replaced (registering/unregistering hooks waits for RCU grace periods). */
const BASE_CHAINS: Record<string, string> = {
  raw_prerouting: "type filter hook prerouting priority raw; policy accept;",
  prerouting: "type nat hook prerouting priority dstnat; policy accept;",
  output: "type nat hook output priority -100; policy accept;",
  postrouting: "type nat hook postrouting priority srcnat; policy accept;",
  forward: "type filter hook forward priority filter; policy accept;",
};
const REGULAR_CHAINS = ["published"];

/** The rules of every chain, derived from the store. */
export function renderRules(r: Ruleset): Record<string, string[]> {
  const bridges = r.networks.map((n) => q(n.bridge)).join(", ");
  const rules: Record<string, string[]> = { raw_prerouting: [], published: [], prerouting: [], output: [], postrouting: [], forward: [] };
  rules.raw_prerouting!.push(`iifname { ${bridges} } ip daddr 127.0.0.0/8 drop`, `iifname { ${bridges} } ip saddr 127.0.0.0/8 drop`);
  for (const p of r.ports) {
    const daddr = p.host_ip ? `ip daddr ${p.host_ip} ` : "";
    rules.published!.push(`${daddr}${p.proto} dport ${p.host_port} dnat to ${p.container_ip}:${p.container_port}`);
  }
  rules.prerouting!.push("fib daddr type local jump published");
  rules.output!.push("fib daddr type local jump published");
  for (const n of r.networks) {
    if (n.internal) continue;
    rules.postrouting!.push(`oifname ${q(n.bridge)} ip saddr 127.0.0.0/8 masquerade`);
    // Hairpin: a container of this subnet reaching a published port of this bridge, possibly its
    // own. Not by iifname: with br_netfilter such packets are bridged and postrouting sees no input
    // interface. The host's own connections (source = the gateway) keep their source.
    rules.postrouting!.push(`oifname ${q(n.bridge)} ct status dnat ip saddr ${n.subnet} ip saddr != ${n.gateway} masquerade`);
    if (n.outbound) rules.postrouting!.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
  }
  const fwd = rules.forward!;
  fwd.push("ct state established,related accept");
  for (const n of r.networks) fwd.push(`iifname ${q(n.bridge)} oifname ${q(n.bridge)} accept`);
  for (const n of r.networks) {
    if (n.internal) continue;
    fwd.push(`oifname ${q(n.bridge)} ct status dnat accept`);
    if (n.outbound) fwd.push(`iifname ${q(n.bridge)} accept`);
  }
  fwd.push(`iifname { ${bridges} } drop`, `oifname { ${bridges} } drop`);
  return rules;
}

/**
 * One nft transaction: declare the table and chains (no-ops when they exist), flush every chain,
 * add all rules. Only rules change, so hooks stay registered and the swap is cheap and atomic.
 */
export function renderRuleset(r: Ruleset): string {
  const rules = renderRules(r);
  const L: string[] = [`table ip ${r.table} {`];
  for (const [name, spec] of Object.entries(BASE_CHAINS)) L.push(`  chain ${name} {`, `    ${spec}`, `  }`);
  for (const name of REGULAR_CHAINS) L.push(`  chain ${name} {`, `  }`);
  L.push("}");
  for (const name of [...REGULAR_CHAINS, ...Object.keys(BASE_CHAINS)]) L.push(`flush chain ip ${r.table} ${name}`);
  for (const [name, list] of Object.entries(rules)) for (const rule of list) L.push(`add rule ip ${r.table} ${name} ${rule}`);
  return L.join("\n") + "\n";
}

// libnftables in-process (bun:ffi) saves the nft process start (several ms, tens under load) on
// every publish; the `nft` binary is the fallback where the library cannot be loaded.
interface LibNft {
  run(script: string): { ok: boolean; error: string; output: string };
}

let libnft: LibNft | null | undefined;

function loadLibNft(): LibNft | null {
  try {
    const lib = dlopen("libnftables.so.1", {
      nft_ctx_new: { args: [FFIType.u32], returns: FFIType.ptr },
      nft_ctx_buffer_output: { args: [FFIType.ptr], returns: FFIType.i32 },
      nft_ctx_buffer_error: { args: [FFIType.ptr], returns: FFIType.i32 },
      nft_ctx_get_error_buffer: { args: [FFIType.ptr], returns: FFIType.cstring },
      nft_ctx_get_output_buffer: { args: [FFIType.ptr], returns: FFIType.cstring },
      nft_run_cmd_from_buffer: { args: [FFIType.ptr, FFIType.cstring], returns: FFIType.i32 },
    });
    const f = lib.symbols;
    const ctx = f.nft_ctx_new(0);
    if (!ctx) return null;
    // Buffered output/error: nothing is printed, errors come back as text.
    f.nft_ctx_buffer_output(ctx);
    f.nft_ctx_buffer_error(ctx);
    return {
      run(script) {
        const rc = f.nft_run_cmd_from_buffer(ctx, Buffer.from(script + "\0"));
        // Each run resets the buffer, so reading it after a failure gives this run's messages.
        return { ok: rc === 0, error: rc === 0 ? "" : String(f.nft_ctx_get_error_buffer(ctx) ?? ""), output: rc === 0 ? String(f.nft_ctx_get_output_buffer(ctx) ?? "") : "" };
      },
    };
  } catch {
    return null;
  }
}

function runNft(script: string, what: string): string {
  if (libnft === undefined) libnft = loadLibNft();
  let error: string;
  if (libnft) {
    const r = libnft.run(script);
    if (r.ok) return r.output;
    error = r.error.trim();
  } else {
    const p = Bun.spawnSync(["nft", "-f", "-"], { stdin: Buffer.from(script), stdout: "pipe", stderr: "pipe" });
    if (p.exitCode === 0) return p.stdout.toString();
    error = p.stderr.toString().trim() || `exit ${p.exitCode}`;
  }
  throw new Error(`nftables: cannot ${what}: ${error || "unknown error"} (is nftables installed and are we root?)`);
}

/** Makes the table hold exactly `r`'s rules (one atomic transaction), or deletes it when there are no networks. */
export function applyRuleset(r: Ruleset): void {
  if (r.networks.length === 0) return deleteTable(r.table);
  runNft(renderRuleset(r), `update table ip ${r.table}`);
}

export interface PublishedPort {
  hostIp: string; // "" = every host address
  port: number;
  proto: PortRow["proto"];
}

/**
 * Host ports other state roots publish: the DNAT rules in the `published` chain of every `ip` table
 * but `ownTable` (each root has its own table, see README.md). Read from the kernel, so a root that
 * was deleted without a reset still counts for as long as its rules exist, and nothing goes stale.
 */
export function portsPublishedElsewhere(ownTable: string): PublishedPort[] {
  const out: PublishedPort[] = [];
  let table = "";
  let inPublished = false;
  for (const line of runNft("list ruleset", "list the ruleset").split("\n")) {
    const t = line.trim();
    const head = /^table ip (\S+) \{$/.exec(t);
    if (head) {
      table = head[1]!;
      inPublished = false;
    } else if (/^chain \S+ \{$/.test(t)) inPublished = table !== ownTable && t === "chain published {";
    else if (t === "}") inPublished = false;
    else if (inPublished) {
      const m = /^(?:ip daddr (\S+) )?(tcp|udp|sctp) dport (\d+) dnat/.exec(t);
      if (m) out.push({ hostIp: m[1] ?? "", port: Number(m[3]), proto: m[2] as PublishedPort["proto"] });
    }
  }
  return out;
}

export function deleteTable(table: string): void {
  // "table X" creates it if missing so the delete in the same transaction cannot fail.
  runNft(`table ip ${table}\ndelete table ip ${table}\n`, `delete table ip ${table}`);
}

export function tableExists(table: string): boolean {
  return Bun.spawnSync(["nft", "list", "table", "ip", table], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}
