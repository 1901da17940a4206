// `berth compose up -d` of a 10-service busybox project and `down`, timed (median of --runs).
// The comparison the issue asks for (Debian's docker-compose 1.29 driving podman's API, dockerd)
// is not part of this bench yet: it times berth alone.
//
//   bun bench/compose-up.ts [--runs 5]
// Needs root; a temp state root and project, removed afterwards.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { engineRoot } from "../tests/engine/helpers.ts";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] || 5);
const BERTH = resolve(import.meta.dir, "../bin/berth");
const root = await engineRoot();
const dir = mkdtempSync(join(tmpdir(), "berth-bench-compose-"));
mkdirSync(join(dir, "p"));
const services = Array.from({ length: 10 }, (_, i) => `  s${i}:\n    image: busybox\n    command: ["sleep", "100000"]\n    init: true\n`).join("");
writeFileSync(join(dir, "p", "compose.yaml"), `services:\n${services}`);
const env = { ...process.env, BERTH_NETWORK_PREFIX: `bb${process.pid % 10000}` };
const time = (args: string[]): number => {
  const t = performance.now();
  const r = Bun.spawnSync({ cmd: [BERTH, "--root", root, "compose", ...args], cwd: join(dir, "p"), env, stdio: ["ignore", "ignore", "pipe"] });
  if (r.exitCode !== 0) throw new Error(`compose ${args.join(" ")}: ${r.stderr.toString()}`);
  return performance.now() - t;
};
const ups: number[] = [], downs: number[] = [];
try {
  time(["config", "-q"]); // the schema's first check is remembered
  for (let i = 0; i < runs; i++) {
    ups.push(time(["up", "-d"]));
    downs.push(time(["down", "-t", "1"]));
  }
} finally {
  Bun.spawnSync({ cmd: [BERTH, "--root", root, "system", "reset", "-f"], env });
  rmSync(root, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`berth compose up -d (10 services): median ${median(ups).toFixed(0)} ms over ${runs} runs`);
console.log(`berth compose down (10 services): median ${median(downs).toFixed(0)} ms over ${runs} runs`);
