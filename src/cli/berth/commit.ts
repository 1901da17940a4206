// Container-to-image verbs: commit (the container's changes become a layer), export (its
// filesystem as a tar), diff (what it changed). The work is engine/commit.ts's.
import { commitToImage, containerChanges, exportFiles } from "../../engine/commit.ts";
import { bool, type Command, list, str, verb } from "./args.ts";
import { writeArchive } from "./archive-out.ts";

const commit = verb({
  name: "commit", usage: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", summary: "Create a new image from a container's changes", minArgs: 1, maxArgs: 2,
  flags: [str("author", "a", "Author"), list("change", "c", "Apply Dockerfile instruction to the created image"), str("message", "m", "Commit message"),
    bool("pause", "p", "Pause container during commit", { default: true })],
}, async (engine, p, io) => {
  const created = await commitToImage(engine, {
    container: p.args[0]!, repository: p.args[1], changes: p.get("change"), message: p.get("message"), author: p.get("author"), pause: p.get("pause"),
  });
  io.out(`${created.id}\n`);
  return 0;
});

const exportCmd = verb({
  name: "export", usage: "export [OPTIONS] CONTAINER", summary: "Export a container's filesystem as a tar archive", minArgs: 1, maxArgs: 1,
  flags: [str("output", "o", "Write to a file, instead of STDOUT")],
}, async (engine, p) => {
  await writeArchive(exportFiles(engine, p.args[0]!), p.get("output"));
  return 0;
});

const diff = verb({ name: "diff", usage: "diff CONTAINER", summary: "Inspect changes to files or directories on a container's filesystem", minArgs: 1, maxArgs: 1, flags: [] }, async (engine, p, io) => {
  io.out(containerChanges(engine, p.args[0]!).map((c) => `${c.kind} ${c.path}\n`).join(""));
  return 0;
});

export const IMAGE_CONTAINER_COMMANDS: Record<string, Command> = { commit, export: exportCmd, diff };
