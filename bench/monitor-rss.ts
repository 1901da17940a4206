// Memory of berth-monitor per container: starts N monitors, each holding a `sleep` with a log,
// an exit file and an attach socket (what `berth run -d` gives a container), and reads every
// monitor's /proc/PID/status (VmRSS = RssAnon + RssFile) and smaps_rollup (Pss: shared pages
// divided among the processes sharing them; Private: pages only this monitor holds).
//
// Three builds are measured side by side: the Makefile's (as it links: dynamically, against
// glibc), and the same sources linked -static against glibc and against musl (musl-gcc, from
// Debian's musl-tools, when installed), compiled here into a temp dir. A process's VmRSS counts
// every page of libc it maps, shared or not; Pss divides shared pages among their users.
// Compared with the figures in issue 6: podman's conmon 2.0 MB, containerd-shim-runc-v2 13.3 MB.
//
//   bun bench/monitor-rss.ts [--n 50] [--json]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MONITOR_BINARY, spawnMonitor, waitExitFile } from "../src/engine/monitor.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
const N = Number(arg("--n", "50"));
const json = process.argv.includes("--json");
const root = join(import.meta.dir, "..");
const KIB = 1024;

interface Mem { vmRss: number; rssAnon: number; rssFile: number; pss: number; priv: number }

function memOf(pid: number): Mem {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? NaN);
  return {
    vmRss: kb(status, "VmRSS"), rssAnon: kb(status, "RssAnon"), rssFile: kb(status, "RssFile"),
    pss: kb(rollup, "Pss"), priv: kb(rollup, "Private_Clean") + kb(rollup, "Private_Dirty"),
  };
}

/** The monitor's sources linked statically with `compiler` into dir; null when that fails. */
function buildStatic(compiler: string, name: string, dir: string): string | null {
  const out = join(dir, name);
  const srcDir = join(root, "native/monitor");
  const sources = readdirSync(srcDir).filter((f) => f.endsWith(".c")).map((f) => join(srcDir, f));
  try {
    execFileSync(compiler, ["-Os", "-std=gnu11", "-D_GNU_SOURCE", "-fno-strict-aliasing", "-static", "-o", out, ...sources], { stdio: "pipe" });
    return out;
  } catch (e) {
    console.error(`${name}: static link with ${compiler} failed (${(e as Error).message.split("\n")[0]}); not measured`);
    return null;
  }
}

async function measure(label: string, binary: string, work: string): Promise<{ label: string; n: number; avg: Mem; max: Mem }> {
  const dir = join(work, `${label}.run`);
  mkdirSync(dir);
  const started: { pid: number; exit: string }[] = [];
  try {
    for (let i = 0; i < N; i++) {
      const d = join(dir, String(i));
      mkdirSync(d);
      const m = await spawnMonitor({
        binary, command: ["sleep", "3600"], direct: true,
        logPath: join(d, "log"), exitFile: join(d, "exit.json"), attachSocket: join(d, "attach.sock"),
      });
      started.push({ pid: m.pid, exit: join(d, "exit.json") });
    }
    await Bun.sleep(300); // let every monitor settle into its poll loop
    const mems = started.map((s) => memOf(s.pid));
    const keys = Object.keys(mems[0]!) as (keyof Mem)[];
    const avg = Object.fromEntries(keys.map((k) => [k, mems.reduce((a, m) => a + m[k], 0) / mems.length])) as unknown as Mem;
    const max = Object.fromEntries(keys.map((k) => [k, Math.max(...mems.map((m) => m[k]))])) as unknown as Mem;
    return { label, n: mems.length, avg, max };
  } finally {
    for (const s of started) {
      try { process.kill(s.pid, "SIGTERM"); } catch {} // forwarded: the sleep ends, the monitor records it and exits
    }
    for (const s of started) await waitExitFile(s.exit, AbortSignal.timeout(10000)).catch(() => {});
  }
}

execFileSync("make", ["-s", "-C", join(root, "native"), `OUT=${dirname(MONITOR_BINARY)}`, MONITOR_BINARY], { stdio: "inherit" });
const work = mkdtempSync(join(tmpdir(), "berth-monitor-rss-"));
try {
  const results = [await measure("makefile-build", MONITOR_BINARY, work)];
  const glibc = buildStatic("cc", "static-glibc", work);
  if (glibc) results.push(await measure("static-glibc", glibc, work));
  if (Bun.which("musl-gcc")) {
    const musl = buildStatic("musl-gcc", "static-musl", work);
    if (musl) results.push(await measure("static-musl", musl, work));
  } else {
    console.error("static-musl: musl-gcc not installed (apt-get install musl-tools); not measured");
  }

  if (json) {
    console.log(JSON.stringify({ n: N, unit: "kB", results, reference: { conmonKB: 2.0 * KIB, shimKB: 13.3 * KIB } }, null, 2));
  } else {
    const fmt = (kb: number) => `${Math.round(kb)} KiB`.padStart(10);
    console.log(`berth-monitor memory per container, ${N} monitors each holding \`sleep\` (log + exit file + attach socket)`);
    console.log(`${"build".padEnd(16)}${"VmRSS".padStart(10)}${"RssAnon".padStart(10)}${"RssFile".padStart(10)}${"Pss".padStart(10)}${"Private".padStart(10)}${"max VmRSS".padStart(11)}`);
    for (const r of results) {
      console.log(`${r.label.padEnd(16)}${fmt(r.avg.vmRss)}${fmt(r.avg.rssAnon)}${fmt(r.avg.rssFile)}${fmt(r.avg.pss)}${fmt(r.avg.priv)} ${fmt(r.max.vmRss)}`);
    }
    console.log("reference (issue 6, VmRSS): podman conmon 2.0 MB, containerd-shim-runc-v2 13.3 MB; goal < 1 MiB (1024 KiB)");
    for (const r of results) {
      console.log(`  ${r.label}: VmRSS ${(2.0 * KIB / r.avg.vmRss).toFixed(1)}x smaller than conmon, ${(13.3 * KIB / r.avg.vmRss).toFixed(1)}x smaller than the shim; ` +
        `${r.avg.vmRss < KIB ? "under" : "OVER"} 1 MiB`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
