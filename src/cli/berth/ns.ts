// `berth ns [CONTAINER...]`: containers' kernel namespaces (engine/ns-view.ts), printed. With
// containers: for each, every namespace's inode and whether it is its own, the host's, or shared
// with other containers (what `ls -l /proc/PID/ns` compared by hand shows). Without: an
// lsns-like table of every namespace a running container is in.
import { containerNamespaces, namespaceTable, type ContainerNamespace } from "../../engine/ns-view.ts";
import { UsageError } from "../../engine/errors.ts";
import { type Command, str, verb } from "./args.ts";
import { table } from "./format.ts";

function sharing(ns: ContainerNamespace): string {
  const who = [...(ns.host ? ["the host"] : []), ...ns.sharedWith];
  return who.length ? who.join(", ") : "nobody (its own)";
}

const ns = verb({
  name: "ns", usage: "ns [OPTIONS] [CONTAINER...]",
  summary: "Show containers' namespaces: each one's inode, and whether it is the container's own, the host's, or shared with other containers (no CONTAINER: every namespace in use, like lsns)",
  flags: [str("format", undefined, "json for JSON output (default: tables)", "string")],
}, async (engine, p, io) => {
  const format = p.get("format");
  if (format !== undefined && format !== "json") throw new UsageError(`invalid --format ${JSON.stringify(format)}: use json, or leave it out for tables`);
  if (p.args.length === 0) {
    const uses = namespaceTable(engine);
    if (format === "json") {
      io.out(JSON.stringify(uses.map((u) => ({ Inode: u.inode, Type: u.type, Processes: u.processes, Pid: u.pid, Host: u.host, Containers: u.containers })), null, 4) + "\n");
      return 0;
    }
    io.out(table(["NS", "TYPE", "NPROCS", "PID", "HOST", "CONTAINERS"],
      uses.map((u) => [String(u.inode), u.type, String(u.processes), String(u.pid), u.host ? "yes" : "no", u.containers.join(", ")])));
    return 0;
  }
  const all = containerNamespaces(engine, p.args);
  if (format === "json") {
    io.out(JSON.stringify(all.map((c) => ({
      Id: c.id, Name: c.name, Pid: c.pid, Running: c.pid !== 0,
      Namespaces: c.namespaces.map((n) => ({ Type: n.type, Inode: n.inode, Host: n.host, SharedWith: n.sharedWith })),
    })), null, 4) + "\n");
    return 0;
  }
  io.out(all.map((c) => {
    const head = `${c.name} (${c.id.slice(0, 12)})`;
    if (!c.pid) return `${head}: not running, so it has no namespaces\n`;
    return `${head}, init pid ${c.pid} on the host\n` + table(["TYPE", "NS", "SHARED WITH"], c.namespaces.map((n) => [n.type, `${n.type}:[${n.inode}]`, sharing(n)]));
  }).join("\n"));
  return 0;
});

export const NS_COMMAND: Command = ns;
