// Shared by the engine tests: a temp engine root with a busybox image imported through the image
// store (as `berth import` does), and `berth` driven as a user would, one process per command.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync, openSync, closeSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openImageStore, closeImageStore } from "../../src/image/store.ts";
import { rootfsImporter } from "../../src/image/importers.ts";
import { normalizeTaggedName } from "../../src/image/reference.ts";

export const REPO = resolve(import.meta.dir, "../..");
export const BERTH = join(REPO, "bin/berth");

let applets: string[] | undefined;

/** A busybox root filesystem directory from the host's busybox-static. */
export function busyboxRootfs(dir: string): string {
  applets ??= Bun.spawnSync(["/bin/busybox", "--list"]).stdout.toString().split("\n").filter((a) => a && a !== "busybox");
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "var/www", "home"]) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "tmp"), 0o1777);
  copyFileSync("/bin/busybox", join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  for (const a of applets) symlinkSync("busybox", join(dir, "bin", a));
  writeFileSync(join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(dir, "etc/group"), "root:x:0:\nwww:x:33:\nnogroup:x:65534:\n");
  writeFileSync(join(dir, "var/www/index.html"), "hello from berth\n");
  return dir;
}

/** A fresh engine root holding the image busybox:latest. */
export async function engineRoot(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "berth-eng-"));
  const src = busyboxRootfs(join(root, "busybox-src"));
  const store = openImageStore(root);
  try {
    await rootfsImporter(src).run(store, { names: [normalizeTaggedName("busybox")], changes: ['CMD ["sh"]'] });
  } finally {
    closeImageStore(root);
  }
  rmSync(src, { recursive: true, force: true });
  return root;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let seq = 0;

/** Runs `berth --root ROOT ARGS…`; output through files, since a detached container must not hold our pipes. */
export function berth(root: string, args: string[], opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string>; outDir?: string; cwd?: string } = {}): Result {
  // outDir: somewhere other than the root for the output files (a full root could not hold them).
  const base = join(opts.outDir ?? root, `.out-${process.pid}-${seq++}`);
  const out = openSync(`${base}.out`, "w+");
  const err = openSync(`${base}.err`, "w+");
  try {
    const r = Bun.spawnSync({
      cmd: [BERTH, "--root", root, ...args],
      cwd: opts.cwd,
      stdio: [opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin), out, err],
      env: { ...process.env, ...opts.env },
      timeout: opts.timeoutMs ?? 60_000,
    });
    return { code: r.exitCode ?? 255, stdout: readFileSync(`${base}.out`, "utf8"), stderr: readFileSync(`${base}.err`, "utf8") };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(`${base}.out`, { force: true });
    rmSync(`${base}.err`, { force: true });
  }
}

/** Mount points below root (there must be none left after cleanup). */
export function mountsUnder(root: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m === root || m.startsWith(root + "/"));
}

/** Removes every container (rm -f), then the root; asserts nothing stays mounted. */
export function cleanupRoot(root: string): void {
  if (!existsSync(root)) return;
  const ids = berth(root, ["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean);
  if (ids.length) berth(root, ["rm", "-f", "-v", ...ids]);
  // The root's bridges and nftables table are named after it and outlive its directory: reset them.
  if (existsSync(join(root, "network/network.db"))) berth(root, ["system", "reset", "-f"]);
  for (const m of mountsUnder(root).reverse()) Bun.spawnSync(["umount", "-l", m]);
  rmSync(root, { recursive: true, force: true });
}

/** cgroup directories named after any of the ids, in every v1 hierarchy and the unified one. */
export function cgroupsOf(ids: string[]): string[] {
  const out: string[] = [];
  const base = "/sys/fs/cgroup";
  for (const h of Bun.spawnSync(["ls", base]).stdout.toString().split("\n").filter(Boolean)) {
    for (const id of ids) if (existsSync(join(base, h, "berth", id))) out.push(join(base, h, "berth", id));
  }
  return out;
}

/** Processes whose command line mentions the root (monitors, exit hooks, berth itself). */
export function processesUnder(root: string): number[] {
  const pids: number[] = [];
  for (const d of Bun.spawnSync(["ls", "/proc"]).stdout.toString().split("\n")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(root)) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

export async function eventually(check: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await Bun.sleep(100);
  }
  return check();
}
