// Runs real containers for the escape suite with a runc-compatible runtime: the project's
// bin/berth-runtime, or any other given in BERTH_TEST_RUNTIME (runc works: same CLI). Every
// container lives in its own temp dir (bundle + state root) and is deleted afterwards.
import { chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Spec } from "../../src/oci/spec.ts";
import { defaultCapabilities } from "../../src/security/capabilities.ts";
import { defaultSeccompFor } from "../../src/security/default-profile.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultRlimits } from "../../src/security/defaults.ts";
import { REPO, fixtures, type Ran } from "./helpers.ts";

export const RUNTIME = process.env.BERTH_TEST_RUNTIME || join(REPO, "bin/berth-runtime");

let serial = 0;

export class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "berth-sec-"));
  readonly bundle = join(this.dir, "bundle");
  readonly rootfs = join(this.bundle, "rootfs");
  readonly state = join(this.dir, "state");
  /** A file next to the rootfs: reachable from the host, never from inside. */
  readonly secret = join(this.bundle, "host-secret");
  readonly id = `berth-sec-${process.pid}-${serial++}`;

  constructor() {
    chmodSync(this.dir, 0o755);
    mkdirSync(join(this.rootfs, "bin"), { recursive: true });
    for (const dir of ["proc", "sys", "dev", "tmp", "mnt", "etc"]) mkdirSync(join(this.rootfs, dir));
    chmodSync(join(this.rootfs, "tmp"), 0o1777);
    copyFileSync("/bin/busybox", join(this.rootfs, "bin/busybox"));
    chmodSync(join(this.rootfs, "bin/busybox"), 0o755);
    for (const tool of ["sh", "ls", "cat", "sleep", "id"]) symlinkSync("busybox", join(this.rootfs, "bin", tool));
    copyFileSync(fixtures().probe, join(this.rootfs, "bin/probe"));
    chmodSync(join(this.rootfs, "bin/probe"), 0o755);
    writeFileSync(join(this.rootfs, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n");
    writeFileSync(this.secret, "host secret\n");
  }

  /** Runs the container in the foreground and returns its output; always deletes it. */
  run(spec: Spec, opts: { extraFds?: number[]; preserveFds?: number } = {}): Ran {
    writeFileSync(join(this.bundle, "config.json"), JSON.stringify(spec, null, 1));
    const argv = [RUNTIME, "--root", this.state, "run", "-b", this.bundle];
    if (opts.preserveFds) argv.push("--preserve-fds", String(opts.preserveFds));
    argv.push(this.id);
    try {
      const r = Bun.spawnSync(argv, {
        stdio: ["ignore", "pipe", "pipe", ...(opts.extraFds ?? [])] as never,
        timeout: 60_000,
      });
      return {
        stdout: r.stdout.toString(),
        stderr: r.stderr.toString(),
        exitCode: r.exitCode,
        signal: r.signalCode == null ? null : String(r.signalCode),
      };
    } finally {
      this.delete();
    }
  }

  /** Starts the container detached (its process runs until it exits or is killed). */
  start(spec: Spec): void {
    writeFileSync(join(this.bundle, "config.json"), JSON.stringify(spec, null, 1));
    // The container inherits the runtime's stdio: a pipe would stay open as long as it runs, so
    // errors go to a file.
    const errPath = join(this.dir, "start.err");
    const errFd = openSync(errPath, "w");
    try {
      const r = Bun.spawnSync([RUNTIME, "--root", this.state, "run", "-d", "-b", this.bundle, this.id], {
        stdio: ["ignore", "ignore", errFd],
        timeout: 60_000,
      });
      if (r.exitCode !== 0) throw new Error(`${RUNTIME} run -d failed (${r.exitCode}): ${readFileSync(errPath, "utf8")}`);
    } finally {
      closeSync(errFd);
    }
  }

  delete(): void {
    Bun.spawnSync([RUNTIME, "--root", this.state, "delete", "--force", this.id], { stdio: ["ignore", "ignore", "ignore"], timeout: 30_000 });
  }

  cleanup(): void {
    this.delete();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Policy {
  /** Added to Docker's 14 (like `docker run --cap-add`); the seccomp profile follows them. */
  capAdd?: string[];
  uid?: number;
  noNewPrivileges?: boolean;
  /** Namespaces to leave out (share with the host). */
  shareNamespaces?: string[];
  /** Run in a new user namespace whose root is this host uid/gid (65536 ids mapped). */
  userNamespaceRoot?: number;
}

/** Gives the rootfs to the host uid that container root maps to (what an image unpacked for a
 *  user-namespaced container looks like). */
export function chownTree(path: string, id: number): void {
  const r = Bun.spawnSync(["chown", "-R", "-h", `${id}:${id}`, path], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`chown -R ${id} ${path}: ${r.stderr.toString()}`);
}

/** A config like `docker run` gives: Docker's caps, default seccomp profile, masked and
 *  read-only paths, no_new_privs, its own namespaces, deny-all device cgroup. */
export function hardenedSpec(sb: Sandbox, args: string[], policy: Policy = {}): Spec {
  const caps = defaultCapabilities(policy.capAdd ?? []);
  const share = new Set(policy.shareNamespaces ?? []);
  const userns = policy.userNamespaceRoot !== undefined;
  const namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup", ...(userns ? ["user"] : [])]
    .filter((type) => !share.has(type))
    .map((type) => ({ type })) as NonNullable<Spec["linux"]>["namespaces"];
  return {
    ociVersion: "1.2.0",
    root: { path: sb.rootfs, readonly: false },
    hostname: "berth-sec",
    process: {
      terminal: false,
      user: { uid: policy.uid ?? 0, gid: policy.uid ?? 0 },
      args,
      env: ["PATH=/bin", "HOME=/"],
      cwd: "/",
      capabilities: caps,
      rlimits: defaultRlimits(),
      noNewPrivileges: policy.noNewPrivileges ?? true,
    },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      namespaces,
      resources: { devices: [{ allow: false, access: "rwm" }] },
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      seccomp: defaultSeccompFor(caps.bounding ?? []),
      ...(userns
        ? {
            uidMappings: [{ containerID: 0, hostID: policy.userNamespaceRoot!, size: 65536 }],
            gidMappings: [{ containerID: 0, hostID: policy.userNamespaceRoot!, size: 65536 }],
          }
        : {}),
    },
  };
}

/** The probe's answer: its last line of output. */
export function answer(r: Ran): string {
  const lines = r.stdout.trim().split("\n");
  if (r.exitCode !== 0 && !r.stdout.trim()) {
    throw new Error(`container failed (exit ${r.exitCode}, signal ${r.signal}): ${r.stderr.trim()}`);
  }
  return lines[lines.length - 1]!;
}
