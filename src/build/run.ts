// A RUN step: a container from the step's image (its config, the build args as environment, no
// network unless asked), run through the engine's run path with its output streamed; then what
// it changed becomes the next image's layer (none when it changed nothing), and the container goes.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Engine } from "../engine/handle.ts";
import { attach, writeLogs } from "../engine/logs.ts";
import type { ImageConfig } from "../image/oci.ts";
import type { ImageRecord } from "../image/store.ts";
import { mountTargets } from "../engine/commit.ts";
import { mountStubs, packUpperLayer } from "../storage/overlay.ts";
import type { BuildOutput } from "./output.ts";
import { commitStep } from "./images.ts";

export interface RunStepRequest {
  image: ImageRecord;
  config: ImageConfig;
  cmd: string[];
  /** KEY=VALUE build args in scope that ENV does not set: the command's environment, not the image's. */
  buildArgs: string[];
  network: string;
  /** RUN --mount: the engine's bind mounts (type=bind,source=…,target=…[,readonly]); never in the layer. */
  mounts?: string[];
  createdBy: string;
  output: BuildOutput;
  failure: (exitCode: number) => Error;
}

export async function runStep(engine: Engine, req: RunStepRequest): Promise<ImageRecord> {
  // Interrupted (ctrl-c, a TERM): the step's container is killed (at once if it runs, else as soon
  // as it starts), so the build fails as a failed RUN does and the container is removed below,
  // instead of running on without its build.
  let interrupted = false;
  let id: string | null = null;
  const stop = () => {
    if (!id) return;
    try { engine.kill(id, 9); } catch { /* not running yet, or gone */ }
  };
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) => [sig, () => { interrupted = true; stop(); }] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  let row;
  try {
    row = await engine.create({
      image: req.image.id, args: req.cmd, entrypoint: "", env: req.buildArgs, workdir: req.config.WorkingDir || undefined,
      user: req.config.User || undefined, network: req.network, mounts: req.mounts ?? [], labels: ["berth.build.step=1"],
    }, { forRun: true });
  } catch (e) {
    for (const [sig, h] of handlers) process.off(sig, h);
    throw e;
  }
  id = row.id;
  try {
    req.output.out(` ---> Running in ${row.id.slice(0, 12)}\n`);
    let received = 0;
    let session: Awaited<ReturnType<typeof attach>> | undefined;
    const started = BigInt(Date.now() - 1000) * 1_000_000n;
    const code = await engine.runAttached(row.id, {
      foreground: true,
      beforeStart: async (r) => {
        session = await attach(engine.paths.attachSocket(r.id), {
          tty: false,
          onOutput: (stream, data) => { received += data.length; req.output.runOutput(stream === "stderr" ? "stderr" : "stdout", data); },
        });
      },
      untilExit: async () => {
        if (interrupted) stop();
        await session?.closed;
        // The monitor may accept us only after the first output went by: the log has it all.
        if (received === 0) {
          await writeLogs(engine.paths.log(row.id), { since: started }, { stdout: (d) => req.output.runOutput("stdout", d), stderr: (d) => req.output.runOutput("stderr", d) });
        }
        return "exited";
      },
    });
    if (code !== 0) throw req.failure(code === "detached" ? 1 : code);
    // What the runtime made only to mount on (/etc/hosts, …) is not the step's change; a step
    // that changed nothing else adds no layer.
    const upper = path.join(engine.paths.container(row.id), "upper");
    const lowers = engine.images.snapshotDirs(req.image);
    const stubs = mountStubs(upper, lowers, mountTargets(engine, row));
    stubParents(upper, lowers, stubs);
    const changed = fs.readdirSync(upper).some((n) => !stubs.has(n));
    return await commitStep(engine.images, req.image, req.config, { created_by: req.createdBy }, changed ? packUpperLayer(upper, { exclude: stubs }) : null);
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    await engine.remove(row.id, { force: true, volumes: true }).catch(() => {});
  }
}

/**
 * The directories the runtime made only to hold mount points the image lacks (/run/secrets in an
 * image with no /run, a cache mount's /root/.cache): new, and holding nothing but stubs. They are
 * the mounts', not the step's (BuildKit leaves them out too).
 */
function stubParents(upper: string, lowers: readonly string[], stubs: Set<string>): void {
  const inLowers = (rel: string) => lowers.some((l) => { try { fs.lstatSync(path.join(l, rel)); return true; } catch { return false; } });
  for (let grew = true; grew;) {
    grew = false;
    for (const s of [...stubs]) for (let d = path.posix.dirname(s); d !== "."; d = path.posix.dirname(d)) {
      if (stubs.has(d)) continue;
      if (inLowers(d)) break;
      let names: string[];
      try { names = fs.readdirSync(path.join(upper, d)); } catch { break; }
      if (!names.every((n) => stubs.has(`${d}/${n}`))) break;
      stubs.add(d);
      grew = true;
    }
  }
}
