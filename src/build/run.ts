// A RUN step: a container from the step's image (its config, the build args as environment, no
// network unless asked), run through the engine's run path with its output streamed; then what
// it changed becomes the next image's layer (none when it changed nothing), and the container goes.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Engine } from "../engine/handle.ts";
import { attach, writeLogs } from "../engine/logs.ts";
import type { ImageConfig } from "../image/oci.ts";
import type { ImageRecord } from "../image/store.ts";
import { packUpperLayer } from "../storage/overlay.ts";
import { isOverlayWhiteout } from "../storage/pack.ts";
import type { BuildOutput } from "./output.ts";
import { commitStep, withImageView } from "./images.ts";

export interface RunStepRequest {
  image: ImageRecord;
  config: ImageConfig;
  cmd: string[];
  /** KEY=VALUE build args in scope that ENV does not set: the command's environment, not the image's. */
  buildArgs: string[];
  network: string;
  createdBy: string;
  output: BuildOutput;
  failure: (exitCode: number) => Error;
}

export async function runStep(engine: Engine, req: RunStepRequest): Promise<ImageRecord> {
  const row = await engine.create({
    image: req.image.id, args: req.cmd, entrypoint: "", env: req.buildArgs, workdir: req.config.WorkingDir || undefined,
    user: req.config.User || undefined, network: req.network, labels: ["berth.build.step=1"],
  }, { forRun: true });
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
        await session?.closed;
        // The monitor may accept us only after the first output went by: the log has it all.
        if (received === 0) {
          await writeLogs(engine.paths.log(row.id), { since: started }, { stdout: (d) => req.output.runOutput("stdout", d), stderr: (d) => req.output.runOutput("stderr", d) });
        }
        return "exited";
      },
    });
    if (code !== 0) throw req.failure(code === "detached" ? 1 : code);
    const upper = path.join(engine.paths.container(row.id), "upper");
    const mounts = mountTargets(engine.paths.bundle(row.id));
    const changed = await withImageView(engine.images, req.image, (view) => dropMountStubs(upper, view, mounts));
    return await commitStep(engine.images, req.image, req.config, { created_by: req.createdBy }, changed ? packUpperLayer(upper) : null);
  } finally {
    await engine.remove(row.id, { force: true, volumes: true }).catch(() => {});
  }
}

/** The mount destinations in the container's OCI config: files and directories the runtime made in the upper dir only to mount on. */
function mountTargets(bundle: string): string[] {
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8")) as { mounts?: Array<{ destination: string }> };
    return (spec.mounts ?? []).map((m) => m.destination.replace(/^\/+/, "")).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Removes from the upper dir what only the runtime put there (empty mount points absent from the
 * image, and directories copied up only to hold them, unchanged), so they are not committed.
 * Whether anything is left: a step that changed nothing adds no layer.
 */
export function dropMountStubs(upper: string, view: string, targets: string[]): boolean {
  for (const t of [...targets].sort((a, b) => b.length - a.length)) {
    const p = path.join(upper, t);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (fs.existsSync(path.join(view, t))) continue;
    if ((st.isFile() && st.size === 0) || (st.isDirectory() && fs.readdirSync(p).length === 0)) fs.rmSync(p, { recursive: true, force: true });
    // directories above it that the copy-up made and that are now empty and unchanged
    for (let d = path.posix.dirname(t); d !== "." && d !== "/"; d = path.posix.dirname(d)) {
      const up = path.join(upper, d);
      try {
        const a = fs.lstatSync(up), b = fs.lstatSync(path.join(view, d));
        if (!a.isDirectory() || fs.readdirSync(up).length || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || isOverlayWhiteout(a)) break;
        fs.rmdirSync(up);
      } catch {
        break;
      }
    }
  }
  return fs.readdirSync(upper).length > 0;
}
