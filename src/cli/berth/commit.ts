// Container-to-image verbs: commit (the container's changes become a layer), export (its
// filesystem as a tar), diff (what it changed). The layer work is the image store's.
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../../engine/engine.ts";
import { EngineError } from "../../engine/errors.ts";
import { commitContainer } from "../../image/commit.ts";
import { diffContainer, exportContainer, mountContainerRootfs, unmountContainerRootfs, isMountPoint } from "../../storage/overlay.ts";
import { bool, list, str } from "./args.ts";
import type { Command } from "./container.ts";
import { writeFully } from "./container.ts";

const b = bool, s = str, l = list;

const commit: Command = {
  spec: {
    name: "commit", usage: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", summary: "Create a new image from a container's changes", minArgs: 1, maxArgs: 2,
    flags: [s("author", "a", "Author"), l("change", "c", "Apply Dockerfile instruction to the created image"), s("message", "m", "Commit message"), b("pause", "p", "Pause container during commit (default true)")],
  },
  async run(engine, p, io) {
    const row = engine.find(p.args[0]!);
    const img = engine.images.get(row.config.imageId as `sha256:${string}`);
    if (!img) throw new EngineError(`the image of container ${row.name} is gone`);
    const view = engine.observe(row);
    // Freeze a running container for a consistent copy; the row says so, so a berth killed
    // meanwhile leaves it shown truthfully as paused (unpause resumes it).
    const pause = view.running && view.status !== "paused" && p.strings.get("pause") !== "false";
    if (pause) engine.pauseForCommit(row.id);
    try {
      const c = row.config;
      const created = await commitContainer(engine.images, {
        upper: join(engine.paths.container(row.id), "upper"), image: img, ref: p.args[1], changes: p.lists.get("change"),
        message: p.strings.get("message"), author: p.strings.get("author"), createdBy: `berth commit ${row.name}`,
        config: {
          ...img.config, Env: c.env, Cmd: c.cmd, Entrypoint: c.entrypoint.length ? c.entrypoint : null, WorkingDir: c.workingDir || undefined,
          User: c.user || undefined, Labels: c.labels, ExposedPorts: Object.fromEntries(c.exposedPorts.map((x) => [x, {}])),
        },
      });
      io.out(`${created.id}\n`);
    } finally {
      if (pause) engine.unpause(row.id);
    }
    return 0;
  },
};

/** Runs fn with the container's merged filesystem mounted (a stopped one only for the call). */
async function withMounted<T>(engine: Engine, ref: string, fn: (rootfs: string, lowers: string[], upper: string) => Promise<T>): Promise<T> {
  const row = engine.find(ref);
  const img = engine.images.get(row.config.imageId as `sha256:${string}`);
  if (!img) throw new EngineError(`the image of container ${row.name} is gone`);
  const dir = engine.paths.container(row.id);
  const lowers = engine.images.snapshotDirs(img);
  const mounted = isMountPoint(join(dir, "rootfs"));
  if (!mounted) mountContainerRootfs(lowers, dir);
  try {
    return await fn(join(dir, "rootfs"), lowers, join(dir, "upper"));
  } finally {
    if (!mounted && !engine.observe(engine.store.get(row.id) ?? row).running) unmountContainerRootfs(dir);
  }
}

const exportCmd: Command = {
  spec: { name: "export", usage: "export [OPTIONS] CONTAINER", summary: "Export a container's filesystem as a tar archive", minArgs: 1, maxArgs: 1, flags: [s("output", "o", "Write to a file, instead of STDOUT")] },
  async run(engine, p) {
    const out = p.strings.get("output");
    if (!out && process.stdout.isTTY) throw new EngineError("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    const fd = out ? openSync(out, "w") : 1;
    try {
      await withMounted(engine, p.args[0]!, async (rootfs) => {
        for await (const chunk of exportContainer(rootfs)) writeFully(fd, chunk);
      });
    } finally {
      if (out) closeSync(fd);
    }
    return 0;
  },
};

const diff: Command = {
  spec: { name: "diff", usage: "diff CONTAINER", summary: "Inspect changes to files or directories on a container's filesystem", minArgs: 1, maxArgs: 1, flags: [] },
  async run(engine, p, io) {
    const changes = await withMounted(engine, p.args[0]!, async (_rootfs, lowers, upper) => diffContainer(upper, lowers));
    io.out(changes.map((c) => `${c.kind} ${c.path}\n`).join(""));
    return 0;
  },
};

export const IMAGE_CONTAINER_COMMANDS: Record<string, Command> = { commit, export: exportCmd, diff };

