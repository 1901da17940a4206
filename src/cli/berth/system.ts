// berth stats, cp, volume *, system df, info, version.
import { statSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import type { Engine } from "../../engine/engine.ts";
import { EngineError } from "../../engine/errors.ts";
import { sampleStats, type StatsSample, statsRow } from "../../engine/stats.ts";
import { copyFromContainer, copyToContainer } from "../../engine/cp.ts";
import { dirSize } from "../../engine/volumes.ts";
import { parseLabels } from "../../engine/options.ts";
import { bool, list, str } from "./args.ts";
import type { Command } from "./container.ts";
import { formatRows, humanSize, table } from "./format.ts";
import { VERSION_TEXT } from "./version.ts";

// The table builders under short names, so that the verbs below read as before.
const b = bool, s = str, l = list;

const STATS_HEADER = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"];

const stats: Command = {
  spec: {
    name: "stats", usage: "stats [OPTIONS] [CONTAINER...]", summary: "Display a live stream of container(s) resource usage statistics",
    flags: [b("all", "a", "Show all containers (default shows just running)"), b("no-stream", undefined, "Disable streaming stats and only pull the first result"), b("no-trunc", undefined, "Do not truncate output"), s("format", undefined, "Format output using a custom template")],
  },
  async run(engine, p, io) {
    const pick = () => {
      if (p.args.length) return p.args.map((ref) => engine.observe(engine.find(ref)));
      return engine.list().filter((v) => p.bools.has("all") || v.running);
    };
    const stream = !p.bools.has("no-stream") && process.stdout.isTTY === true;
    let prev = new Map<string, StatsSample>();
    const render = (rows: Record<string, string>[]) => {
      const format = p.strings.get("format");
      if (format) return formatRows(format, rows);
      return table(STATS_HEADER, rows.map((r) => [r.ID!, r.Name!, r.CPUPerc!, r.MemUsage!, r.MemPerc!, r.NetIO!, r.BlockIO!, r.PIDs!]));
    };
    // The first CPU figure needs two samples: take one, wait briefly, take the second.
    for (const v of pick()) prev.set(v.row.id, sampleStats(v));
    let stop = false;
    const onInt = () => { stop = true; };
    process.on("SIGINT", onInt);
    try {
      for (;;) {
        await Bun.sleep(stream ? 1000 : 500);
        const views = pick();
        const next = new Map<string, StatsSample>();
        const rows = views.map((v) => {
          const cur = sampleStats(v);
          next.set(v.row.id, cur);
          return statsRow(v, prev.get(v.row.id), cur, p.bools.has("no-trunc"));
        });
        prev = next;
        if (stream) io.out("\x1b[2J\x1b[H");
        io.out(render(rows));
        if (!stream || stop) return 0;
      }
    } finally {
      process.off("SIGINT", onInt);
    }
  },
};

const cp: Command = {
  spec: { name: "cp", usage: "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH\n        berth cp [OPTIONS] SRC_PATH CONTAINER:DEST_PATH", summary: "Copy files/folders between a container and the local filesystem", minArgs: 2, maxArgs: 2, flags: [b("archive", "a", "Archive mode (copy all uid/gid information)"), b("follow-link", "L", "Always follow symbol link in SRC_PATH")] },
  async run(engine, p) {
    const [src, dst] = p.args as [string, string];
    const split = (x: string) => {
      const at = x.indexOf(":");
      return at > 0 && !x.startsWith("/") && !x.startsWith(".") ? { ref: x.slice(0, at), path: x.slice(at + 1) } : null;
    };
    const from = split(src), to = split(dst);
    if (from && to) throw new EngineError("copying between containers is not supported");
    if (!from && !to) throw new EngineError("must specify at least one container source");
    if (from) await copyFromContainer(engine, engine.find(from.ref), from.path, dst, { archive: p.bools.has("archive"), followLink: p.bools.has("follow-link") });
    else await copyToContainer(engine, engine.find(to!.ref), src, to!.path, { archive: p.bools.has("archive"), followLink: p.bools.has("follow-link") });
    return 0;
  },
};

const volumeCreate: Command = {
  spec: { name: "volume create", usage: "volume create [OPTIONS] [VOLUME]", summary: "Create a volume", maxArgs: 1, flags: [s("driver", "d", "Specify volume driver name (local)"), l("label", undefined, "Set metadata for a volume"), l("opt", "o", "Set driver specific options")] },
  async run(engine, p, io) {
    const d = p.strings.get("driver");
    if (d && d !== "local") throw new EngineError(`volume driver ${d} is not supported (only local)`);
    if (p.lists.get("opt")?.length) throw new EngineError("volume driver options (-o) are not supported by the local driver of berth");
    const v = engine.volumes.create(p.args[0], parseLabels(p.lists.get("label") ?? []));
    io.out(`${v.name}\n`);
    return 0;
  },
};

const volumeLs: Command = {
  spec: { name: "volume ls", usage: "volume ls [OPTIONS]", summary: "List volumes", maxArgs: 0, flags: [b("quiet", "q", "Only display volume names"), s("format", undefined, "Pretty-print volumes using a Go template"), l("filter", "f", "Provide filter values (e.g. 'dangling=true')")] },
  async run(engine, p, io) {
    let vols = engine.volumes.list();
    for (const f of p.lists.get("filter") ?? []) {
      const [k, val = ""] = f.split("=", 2) as [string, string?];
      if (k === "dangling") vols = vols.filter((v) => (engine.volumes.users(v.name).length === 0) === (val === "true" || val === "1"));
      else if (k === "name") vols = vols.filter((v) => v.name.includes(val));
      else if (k === "label") vols = vols.filter((v) => val.split("=")[0]! in v.labels);
      else throw new EngineError(`invalid filter '${k}'`);
    }
    if (p.bools.has("quiet")) { io.out(vols.map((v) => v.name + "\n").join("")); return 0; }
    const format = p.strings.get("format");
    if (format) { io.out(formatRows(format, vols.map((v) => ({ ...engine.volumes.info(v) }) as unknown as Record<string, unknown>))); return 0; }
    io.out(table(["DRIVER", "VOLUME NAME"], vols.map((v) => ["local", v.name])));
    return 0;
  },
};

const volumeRm: Command = {
  spec: { name: "volume rm", usage: "volume rm [OPTIONS] VOLUME [VOLUME...]", summary: "Remove one or more volumes", minArgs: 1, flags: [b("force", "f", "Force the removal of one or more volumes")] },
  async run(engine, p, io) {
    let failed = 0;
    for (const n of p.args) {
      try {
        engine.volumes.remove(n, false);
        io.out(`${n}\n`);
      } catch (e) {
        if (p.bools.has("force") && !engine.store.volume(n)) continue;
        failed++;
        io.err(`Error response from daemon: ${(e as Error).message}\n`);
      }
    }
    return failed ? 1 : 0;
  },
};

const volumeInspect: Command = {
  spec: { name: "volume inspect", usage: "volume inspect [OPTIONS] VOLUME [VOLUME...]", summary: "Display detailed information on one or more volumes", minArgs: 1, flags: [s("format", "f", "Format output using a Go template")] },
  async run(engine, p, io) {
    const out = p.args.map((n) => engine.volumes.info(engine.volumes.get(n)) as unknown as Record<string, unknown>);
    const format = p.strings.get("format");
    io.out(format ? formatRows(format, out) : JSON.stringify(out, null, 4) + "\n");
    return 0;
  },
};

const volumePrune: Command = {
  spec: { name: "volume prune", usage: "volume prune [OPTIONS]", summary: "Remove unused local volumes (anonymous ones; --all for named too)", maxArgs: 0, flags: [b("force", "f", "Do not prompt for confirmation"), b("all", "a", "Remove all unused volumes, not just anonymous ones")] },
  async run(engine, p, io) {
    const sizes = new Map(engine.volumes.list().map((v) => [v.name, engine.volumes.sizeOf(v.name)]));
    const removed = engine.volumes.prune(p.bools.has("all"));
    if (removed.length) io.out(`Deleted Volumes:\n${removed.join("\n")}\n\n`);
    io.out(`Total reclaimed space: ${humanSize(removed.reduce((a, n) => a + (sizes.get(n) ?? 0), 0))}\n`);
    return 0;
  },
};

const systemDf: Command = {
  spec: { name: "system df", usage: "system df [OPTIONS]", summary: "Show berth disk usage", maxArgs: 0, flags: [b("verbose", "v", "Show detailed information on space usage"), s("format", undefined, "Format output using a custom template")] },
  async run(engine, p, io) {
    const images = engine.images.list();
    const views = engine.list();
    const usedImages = new Set(views.map((v) => v.row.config.imageId));
    const imgSize = images.reduce((a, i) => a + i.size, 0);
    const imgReclaim = images.filter((i) => !usedImages.has(i.id)).reduce((a, i) => a + i.size, 0);
    const ctrSizes = views.map((v) => dirSize(`${engine.paths.container(v.row.id)}/upper`));
    const ctrSize = ctrSizes.reduce((a, x) => a + x, 0);
    const ctrReclaim = views.reduce((a, v, i) => a + (v.running ? 0 : ctrSizes[i]!), 0);
    const vols = engine.volumes.list();
    const volSizes = vols.map((v) => engine.volumes.sizeOf(v.name));
    const volUsed = vols.map((v) => engine.volumes.users(v.name).length > 0);
    const volSize = volSizes.reduce((a, x) => a + x, 0);
    const volReclaim = volSizes.reduce((a, x, i) => a + (volUsed[i] ? 0 : x), 0);
    let logs = 0;
    for (const v of views) {
      try { logs += statSync(engine.paths.log(v.row.id)).size; } catch { /* none */ }
    }
    // What loads, imports and commits write before it becomes part of the store: a live one's is
    // in use, a dead one's is what `system prune` removes.
    const temps = engine.images.tempUsage();
    const tempSize = temps.reduce((a, t) => a + t.bytes, 0);
    const tempReclaim = temps.reduce((a, t) => a + (t.live ? 0 : t.bytes), 0);
    const pct = (r: number, t: number) => `${humanSize(r)} (${t ? Math.round((r / t) * 100) : 0}%)`;
    const rows = [
      { Type: "Images", TotalCount: String(images.length), Active: String(images.filter((i) => usedImages.has(i.id)).length), Size: humanSize(imgSize), Reclaimable: pct(imgReclaim, imgSize) },
      { Type: "Containers", TotalCount: String(views.length), Active: String(views.filter((v) => v.running).length), Size: humanSize(ctrSize), Reclaimable: pct(ctrReclaim, ctrSize) },
      { Type: "Local Volumes", TotalCount: String(vols.length), Active: String(volUsed.filter(Boolean).length), Size: humanSize(volSize), Reclaimable: pct(volReclaim, volSize) },
      { Type: "Container Logs", TotalCount: String(views.length), Active: String(views.filter((v) => v.running).length), Size: humanSize(logs), Reclaimable: humanSize(logs) },
      { Type: "Temporary Files", TotalCount: String(temps.length), Active: String(temps.filter((t) => t.live).length), Size: humanSize(tempSize), Reclaimable: pct(tempReclaim, tempSize) },
    ];
    const format = p.strings.get("format");
    if (format) { io.out(formatRows(format, rows)); return 0; }
    io.out(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable])));
    return 0;
  },
};

const systemPrune: Command = {
  spec: { name: "system prune", usage: "system prune [OPTIONS]", summary: "Remove stopped containers, dangling images, and what interrupted loads, imports and commits left (--volumes: and unused anonymous volumes)", maxArgs: 0, flags: [b("force", "f", "Do not prompt for confirmation"), b("volumes", undefined, "Prune anonymous volumes")] },
  async run(engine, p, io) {
    const r = await engine.prune({ volumes: p.bools.has("volumes") });
    if (r.containers.length) io.out(`Deleted Containers:\n${r.containers.join("\n")}\n\n`);
    if (r.volumes.length) io.out(`Deleted Volumes:\n${r.volumes.join("\n")}\n\n`);
    if (r.images.length) io.out(`Deleted Images:\n${r.images.map((d) => `deleted: ${d}`).join("\n")}\n\n`);
    io.out(`Total reclaimed space: ${humanSize(r.reclaimedBytes)}\n`);
    return 0;
  },
};

const systemReset: Command = {
  spec: { name: "system reset", usage: "system reset [OPTIONS]", summary: "Remove every container and every network's bridges, rules and leases (images and volumes stay)", maxArgs: 0, flags: [b("force", "f", "Do not prompt for confirmation")] },
  async run(engine, _p, io) {
    const { containers } = await engine.reset();
    io.out(`Removed ${containers} container(s); networks reset\n`);
    return 0;
  },
};

async function infoText(engine: Engine): Promise<string> {
  const views = engine.list();
  const { detectLayout } = await import("../../cgroups/index.ts");
  let layout = "unknown";
  try { layout = String(detectLayout()); } catch { /* no cgroups */ }
  const kernel = (await Bun.file("/proc/sys/kernel/osrelease").text()).trim();
  let os = "Linux";
  try {
    os = /^PRETTY_NAME="?([^"\n]*)/m.exec(await Bun.file("/etc/os-release").text())?.[1] ?? os;
  } catch { /* no os-release */ }
  return [
    "Client:",
    ` Version:    ${VERSION_TEXT}`,
    "",
    "Server:",
    ` Containers: ${views.length}`,
    `  Running: ${views.filter((v) => v.running && v.status !== "paused").length}`,
    `  Paused: ${views.filter((v) => v.status === "paused").length}`,
    `  Stopped: ${views.filter((v) => !v.running).length}`,
    ` Images: ${engine.images.list().length}`,
    ` Server Version: ${VERSION_TEXT} (daemonless)`,
    " Storage Driver: overlay",
    " Logging Driver: berth-monitor (CRI line format)",
    ` Cgroup Layout: ${layout}`,
    " Runtimes: berth-runtime",
    " Default Runtime: berth-runtime",
    " Security Options:",
    "  seccomp",
    "   Profile: builtin",
    ` Kernel Version: ${kernel}`,
    ` Operating System: ${os}`,
    ` Architecture: ${process.arch === "x64" ? "x86_64" : process.arch}`,
    ` CPUs: ${availableParallelism()}`,
    ` Total Memory: ${(totalmem() / 1024 ** 3).toFixed(2)}GiB`,
    ` Berth Root Dir: ${engine.root}`,
    "",
  ].join("\n");
}

const info: Command = {
  spec: { name: "info", usage: "info [OPTIONS]", summary: "Display system-wide information", maxArgs: 0, flags: [s("format", "f", "Format the output using the given Go template")] },
  async run(engine, _p, io) {
    io.out(await infoText(engine));
    return 0;
  },
};

const version: Command = {
  spec: { name: "version", usage: "version [OPTIONS]", summary: "Show the berth version information", maxArgs: 0, flags: [s("format", "f", "Format the output using the given Go template")] },
  noReconcile: true,
  async run(_engine, p, io) {
    const v = { Client: { Version: VERSION_TEXT, Runtime: `bun ${Bun.version}`, Os: "linux", Arch: process.arch }, Server: { Version: VERSION_TEXT, Daemonless: true, Runtime: "berth-runtime", Monitor: "berth-monitor" } };
    const format = p.strings.get("format");
    if (format) { io.out(formatRows(format, [v as unknown as Record<string, unknown>])); return 0; }
    io.out([
      "Client:", ` Version:     ${VERSION_TEXT}`, ` Runtime:     bun ${Bun.version}`, ` OS/Arch:     linux/${process.arch === "x64" ? "amd64" : process.arch}`, "",
      "Engine (daemonless):", ` Version:     ${VERSION_TEXT}`, " Runtime:     berth-runtime (in-process)", " Monitor:     berth-monitor", "",
    ].join("\n"));
    return 0;
  },
};

export const EXTRA_COMMANDS: Record<string, Command> = {
  stats, cp, info, version,
  "volume create": volumeCreate, "volume ls": volumeLs, "volume list": volumeLs, "volume rm": volumeRm, "volume remove": volumeRm,
  "volume inspect": volumeInspect, "volume prune": volumePrune,
  "system df": systemDf, "system prune": systemPrune, "system reset": systemReset, "system info": info,
};
