// Shared by the containerd tests: Debian's containerd started with a config file of the test's own
// (root, state and sockets in its temp dir), ctr against it, the shims it started, and a teardown
// that leaves nothing behind (daemon, shims, mounts) even when a test failed half-way.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processAlive, waitFor } from "../helpers/runtime.ts";

export const HAVE_CONTAINERD = existsSync("/usr/bin/containerd") && existsSync("/usr/bin/ctr");

export interface CtrResult { code: number; stdout: string; stderr: string }

/** The config lines every test daemon shares: its own root, state and sockets under `dir`, no
 *  debug or metrics listener, and none of the snapshotters/tracing plugins that need what a test
 *  machine lacks. `disabled` adds plugins to switch off (the ctr tests switch off CRI). */
export function baseConfig(dir: string, disabled: string[] = []): string {
  const off = [...disabled, "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing"];
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = [${off.map((p) => JSON.stringify(p)).join(", ")}]
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
`;
}

export class Containerd {
  readonly socket: string;
  private daemon?: ReturnType<typeof Bun.spawn>;

  /** `dir` holds config.toml (written by the caller) and receives containerd.log. */
  constructor(readonly dir: string) {
    this.socket = join(dir, "containerd.sock");
  }

  async start(): Promise<void> {
    const log = Bun.file(join(this.dir, "containerd.log"));
    this.daemon = Bun.spawn(["containerd", "--config", join(this.dir, "config.toml")], { stdout: log, stderr: log });
    try {
      await waitFor(() => {
        if (this.daemon?.exitCode !== null) throw new Error(`containerd exited (${this.daemon?.exitCode})`);
        return existsSync(this.socket) && this.ctr("default", ["version"]).code === 0;
      }, "containerd to serve its socket");
    } catch (e) {
      throw new Error(`${(e as Error).message}; its log ends:\n${this.log().split("\n").slice(-15).join("\n")}`);
    }
  }

  /** `ctr --namespace NS ARGS…` against this daemon. */
  ctr(ns: string, args: string[], opts: { timeoutMs?: number } = {}): CtrResult {
    const r = Bun.spawnSync({
      cmd: ["ctr", "--address", this.socket, "--namespace", ns, ...args],
      stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs ?? 60_000,
    });
    return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  ctrOk(ns: string, args: string[]): string {
    const r = this.ctr(ns, args);
    if (r.code !== 0) throw new Error(`ctr ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** containerd-shim processes serving this daemon (their command line names its socket). */
  shims(): number[] {
    return pidsWhose((cmd) => cmd.includes("containerd-shim") && cmd.includes(this.dir));
  }

  /** Stops the daemon, kills any shim it left, and unmounts everything under `dir`, deepest first. */
  async stop(): Promise<void> {
    this.daemon?.kill("SIGTERM");
    await this.daemon?.exited;
    this.daemon = undefined;
    for (const p of this.shims()) process.kill(p, "SIGKILL");
    for (const m of mountsUnder(this.dir).reverse()) Bun.spawnSync(["umount", "-l", m]);
  }

  /** The daemon's log, for failure messages. */
  log(): string {
    try {
      return readFileSync(join(this.dir, "containerd.log"), "utf8");
    } catch {
      return "";
    }
  }
}

/** Live processes whose NUL-separated command line passes `match`. */
export function pidsWhose(match: (cmdline: string) => boolean): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
    try {
      return match(readFileSync(`/proc/${p}/cmdline`, "utf8")) && processAlive(Number(p));
    } catch {
      return false;
    }
  }).map(Number);
}

/** Mount points at or below `dir`, in mount order. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(dir + "/"));
}
