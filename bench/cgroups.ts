// Times the cgroup manager's operations on this host, interleaved in one run:
//   lifecycle  — openCgroup + apply(memory, cpu, pids, devices) + destroy of an empty group
//   addProcess — moving one live process into every hierarchy
//   stats      — one stats() read (all controllers)
//   freeze     — freeze() + thaw() of a group holding one sleeping process
//   exec-join  — spawning `true` through the /bin/sh join wrapper vs spawning `true` directly
//
//   bun bench/cgroups.ts [--runs N] [--json]      (needs root)
import { joinedArgv, openCgroup } from "../src/cgroups/index.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 200;
const json = args.includes("--json");

const resources = {
  memory: { limit: 64 << 20 }, cpu: { shares: 512, quota: 50000, period: 100000 }, pids: { limit: 64 },
  devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }],
};

const samples: Record<string, number[]> = { lifecycle: [], addProcess: [], stats: [], freeze: [], "exec-join": [], "exec-direct": [] };
function time(name: string, fn: () => void): void {
  const t = performance.now();
  fn();
  samples[name]!.push(performance.now() - t);
}

const base = `/berth-bench-${process.pid}`;
const holder = openCgroup({ cgroupsPath: base + "-holder", containerId: "b" });
holder.create();
const sleeper = Bun.spawn(["sleep", "1000"]);
holder.addProcess(sleeper.pid);
const other = openCgroup({ cgroupsPath: base + "-other", containerId: "b" });
other.create();
try {
  for (let i = 0; i < runs; i++) {
    time("lifecycle", () => {
      const m = openCgroup({ cgroupsPath: `${base}-${i}`, containerId: "b" });
      m.apply(resources);
      m.destroy();
    });
    time("addProcess", () => (i % 2 ? holder : other).addProcess(sleeper.pid));
    time("stats", () => holder.stats());
    time("freeze", () => { holder.freeze(); holder.thaw(); });
    if (i % 4 === 0) {
      time("exec-join", () => { Bun.spawnSync(joinedArgv(other.procsFiles(), ["true"])); });
      time("exec-direct", () => { Bun.spawnSync(["true"]); });
    }
  }
} finally {
  sleeper.kill(9);
  await sleeper.exited;
  holder.destroy();
  other.destroy();
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { runs: s.length, medianMs: s[Math.floor(s.length / 2)]!, p90Ms: s[Math.floor(s.length * 0.9)]!, minMs: s[0]! };
};
const rows = Object.entries(samples).map(([name, xs]) => ({ name, ...stat(xs) }));
if (json) console.log(JSON.stringify(rows));
else {
  console.log("operation     runs   median ms   p90 ms   min ms");
  for (const r of rows) console.log(`${r.name.padEnd(12)} ${String(r.runs).padStart(5)} ${r.medianMs.toFixed(3).padStart(11)} ${r.p90Ms.toFixed(3).padStart(8)} ${r.minMs.toFixed(3).padStart(8)}`);
}
