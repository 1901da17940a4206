// A runtime-spec bundle with a busybox root filesystem, built from the host's /bin/busybox
// (Debian's busybox-static) in a temp dir. The config is what `berth-runtime spec` writes, with
// terminal false; tests edit `config` and call save() before create/run.
//
//   const b = makeBusyboxBundle({ args: ["sh", "-c", "echo hi"] });
//   try { …runtime(root, ["run", id, "-b", b.dir])… } finally { b.cleanup(); }
import { chmodSync, copyFileSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Spec } from "../../src/oci/spec.ts";
import { mountsUnder, REPO } from "./runtime.ts";

export const BUSYBOX = "/bin/busybox";

export interface Bundle {
  /** The bundle directory (holds config.json and rootfs/). */
  dir: string;
  rootfs: string;
  /** The parsed config.json; mutate it, then save(). */
  config: Spec;
  /** Writes `config` to config.json. */
  save(): void;
  /** Removes the bundle; refuses if anything is still mounted below it (never rm through a mount). */
  cleanup(): void;
}

export interface BundleOptions {
  /** process.args (default: the spec's ["sh"]). */
  args?: string[];
  /** chown the whole rootfs to this host uid/gid (for user-namespace tests). */
  owner?: { uid: number; gid: number };
}

let applets: string[] | undefined;

function busyboxApplets(): string[] {
  if (!applets) {
    const r = Bun.spawnSync([BUSYBOX, "--list"], { stdout: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${BUSYBOX} --list failed: install busybox-static`);
    applets = r.stdout.toString().split("\n").map((s) => s.trim()).filter((s) => s && s !== "busybox");
  }
  return applets;
}

function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) chownTree(p, uid, gid);
    else lchownSync(p, uid, gid);
  }
}

export function makeBusyboxBundle(opts: BundleOptions = {}): Bundle {
  const dir = mkdtempSync(join(tmpdir(), "berth-bundle-"));
  try {
    return populate(dir, opts);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true }); // nothing is mounted yet: safe to remove
    throw e;
  }
}

function populate(dir: string, opts: BundleOptions): Bundle {
  chmodSync(dir, 0o755); // a container's root in a user namespace must be able to reach its rootfs
  const rootfs = join(dir, "rootfs");
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var", "run"]) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  // The binary first, then one symlink per applet.
  copyFileSync(BUSYBOX, join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const a of busyboxApplets()) symlinkSync("busybox", join(rootfs, "bin", a));
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n");
  if (opts.owner) chownTree(rootfs, opts.owner.uid, opts.owner.gid);

  const spec = Bun.spawnSync([join(REPO, "bin/berth-runtime"), "spec", "--bundle", dir], { stderr: "pipe" });
  if (spec.exitCode !== 0) throw new Error(`berth-runtime spec failed: ${spec.stderr.toString()}`);
  const file = join(dir, "config.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as Spec;
  config.process!.terminal = false;
  if (opts.args) config.process!.args = opts.args;

  const bundle: Bundle = {
    dir,
    rootfs,
    config,
    save() {
      writeFileSync(file, JSON.stringify(bundle.config, null, 2));
    },
    cleanup() {
      const mounted = mountsUnder(dir);
      if (mounted.length) throw new Error(`not removing ${dir}: still mounted on the host: ${mounted.join(", ")}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  bundle.save();
  return bundle;
}

/** makeBusyboxBundle, with each bundle removed after the test (through `defer` of useCleanups). */
export function useBundles(defer: (fn: () => void) => void): (opts?: BundleOptions) => Bundle {
  return (opts = {}) => {
    const b = makeBusyboxBundle(opts);
    defer(() => b.cleanup());
    return b;
  };
}
