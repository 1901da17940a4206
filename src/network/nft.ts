// Berth's nftables table, rendered whole from the stored state and swapped in one `nft -f -`
// transaction: the kernel either sees the old table or the new one, never a half-applied set of rules,
// and re-applying after a crash converges to exactly what the store says.
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
import type { PortRow } from "./store.ts";

export interface RulesetNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  outbound: boolean;
}

export interface Ruleset {
  table: string;
  networks: RulesetNetwork[];
  ports: PortRow[];
}

const q = (s: string): string => JSON.stringify(s);

export function renderRuleset(r: Ruleset): string {
  const L: string[] = [];
  const bridges = r.networks.map((n) => q(n.bridge)).join(", ");
  L.push(`table ip ${r.table} {`);

  L.push(`  chain raw_prerouting {`, `    type filter hook prerouting priority raw; policy accept;`);
  L.push(`    iifname { ${bridges} } ip daddr 127.0.0.0/8 drop`, `    iifname { ${bridges} } ip saddr 127.0.0.0/8 drop`, `  }`);

  L.push(`  chain published {`);
  for (const p of r.ports) {
    const daddr = p.host_ip ? `ip daddr ${p.host_ip} ` : "";
    L.push(`    ${daddr}${p.proto} dport ${p.host_port} dnat to ${p.container_ip}:${p.container_port}`);
  }
  L.push(`  }`);
  L.push(`  chain prerouting {`, `    type nat hook prerouting priority dstnat; policy accept;`, `    fib daddr type local jump published`, `  }`);
  L.push(`  chain output {`, `    type nat hook output priority -100; policy accept;`, `    fib daddr type local jump published`, `  }`);

  L.push(`  chain postrouting {`, `    type nat hook postrouting priority srcnat; policy accept;`);
  for (const n of r.networks) {
    if (n.internal) continue;
    L.push(`    oifname ${q(n.bridge)} ip saddr 127.0.0.0/8 masquerade`);
    L.push(`    oifname ${q(n.bridge)} ct status dnat ip saddr ${n.subnet} masquerade`);
    if (n.outbound) L.push(`    ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
  }
  L.push(`  }`);

  L.push(`  chain forward {`, `    type filter hook forward priority filter; policy accept;`);
  L.push(`    ct state established,related accept`);
  for (const n of r.networks) L.push(`    iifname ${q(n.bridge)} oifname ${q(n.bridge)} accept`);
  for (const n of r.networks) {
    if (n.internal) continue;
    L.push(`    oifname ${q(n.bridge)} ct status dnat accept`);
    if (n.outbound) L.push(`    iifname ${q(n.bridge)} accept`);
  }
  L.push(`    iifname { ${bridges} } drop`, `    oifname { ${bridges} } drop`, `  }`);
  L.push(`}`);
  return L.join("\n") + "\n";
}

function runNft(script: string, what: string): void {
  const p = Bun.spawnSync(["nft", "-f", "-"], { stdin: Buffer.from(script), stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) {
    throw new Error(`nft: cannot ${what}: ${p.stderr.toString().trim() || `exit ${p.exitCode}`} (is nftables installed and are we root?)`);
  }
}

/** Replaces the table atomically with `r`'s rules, or deletes it when there are no networks. */
export function applyRuleset(r: Ruleset): void {
  if (r.networks.length === 0) return deleteTable(r.table);
  // "table X" creates it if missing so the delete in the same transaction cannot fail.
  runNft(`table ip ${r.table}\ndelete table ip ${r.table}\n${renderRuleset(r)}`, `update table ip ${r.table}`);
}

export function deleteTable(table: string): void {
  runNft(`table ip ${table}\ndelete table ip ${table}\n`, `delete table ip ${table}`);
}

export function tableExists(table: string): boolean {
  return Bun.spawnSync(["nft", "list", "table", "ip", table], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}
