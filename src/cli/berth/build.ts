// `berth build`: parses docker's flags, runs the builder (src/build), prints its progress. The
// work is src/build/builder.ts's.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { build, BuildError, type BuildSecret } from "../../build/builder.ts";
import { bool, type Command, list, str, verb } from "./args.ts";
import { writeFully } from "./io.ts";

function keyValue(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf("=");
    // docker: --build-arg NAME (no value) takes NAME from the environment
    if (eq < 0) {
      const v = process.env[it];
      if (v !== undefined) out[it] = v;
      else if (flag === "--label") out[it] = "";
      continue;
    }
    if (eq === 0) throw new BuildError(`${flag} ${it}: expected KEY=VALUE`, 125);
    out[it.slice(0, eq)] = it.slice(eq + 1);
  }
  return out;
}

/** --secret id=ID,src=PATH | id=ID,env=VAR (docker's; type=file is the default): ID → a file to read. */
function parseSecrets(items: string[]): Record<string, BuildSecret> {
  const out: Record<string, BuildSecret> = {};
  for (const it of items) {
    const f = new Map<string, string>();
    for (const part of it.split(",")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new Error(`--secret ${it}: expected id=ID,src=PATH`);
      f.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1));
    }
    for (const k of f.keys()) if (!["id", "src", "source", "type", "env"].includes(k)) throw new Error(`--secret ${it}: unexpected key '${k}' (id, src, env, type)`);
    const type = f.get("type") ?? "file";
    if (type !== "file" && type !== "env") throw new Error(`--secret ${it}: type must be file or env`);
    const src = f.get("src") ?? f.get("source");
    const env = f.get("env") ?? (type === "env" ? src : undefined);
    const id = f.get("id") ?? (src ? src.split("/").pop()! : env);
    if (!id) throw new Error(`--secret ${it}: an id is required (id=ID)`);
    if (env !== undefined && (type === "env" || !src)) {
      const v = process.env[env];
      if (v === undefined) throw new Error(`--secret ${it}: the environment variable ${env} is not set`);
      out[id] = { value: v };
    } else {
      if (!src) throw new Error(`--secret ${it}: src=PATH is required`);
      out[id] = { file: resolve(src) };
    }
  }
  return out;
}

function readStdin(): Uint8Array {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n = 0;
    try {
      n = require("node:fs").readSync(0, buf, 0, buf.length, null) as number;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      if ((e as NodeJS.ErrnoException).code === "EOF") break;
      throw e;
    }
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

const buildCmd = verb({
  name: "build", usage: "build [OPTIONS] PATH | -", summary: "Build an image from a Dockerfile", minArgs: 1, maxArgs: 1,
  flags: [
    list("tag", "t", "Name and optionally a tag in the 'name:tag' format", "list"),
    str("file", "f", "Name of the Dockerfile (default: 'PATH/Dockerfile', else 'PATH/Containerfile'); '-' reads it from standard input", "string"),
    list("build-arg", undefined, "Set build-time variables", "list"),
    str("target", undefined, "Set the target build stage to build", "string"),
    bool("no-cache", undefined, "Do not use cache when building the image"),
    list("label", undefined, "Set metadata for an image", "list"),
    str("iidfile", undefined, "Write the image ID to the file", "string"),
    bool("quiet", "q", "Suppress the build output and print image ID on success"),
    str("network", undefined, "Networking mode for the RUN instructions during build: none (default) or host", "string"),
    bool("pull", undefined, "Always attempt to pull a newer version of the images FROM names (an image not in the store is pulled anyway)"),
    list("secret", undefined, "Secret to expose to the build's RUN --mount=type=secret steps: id=ID,src=PATH (or env=VAR); never stored in the image", "list"),
    str("progress", undefined, "Type of progress output: auto, plain or tty (berth prints the same steps for each)", "string"),
  ],
}, async (engine, p, io) => {
  const quiet = p.get("quiet");
  const network = p.get("network") ?? "none";
  if (network !== "none" && network !== "host" && network !== "default") {
    io.err(`Error: --network ${network}: a build's RUN steps run with none (the default) or host\n`);
    return 125;
  }
  const progress = p.get("progress");
  if (progress !== undefined && !["auto", "plain", "tty"].includes(progress)) {
    io.err(`Error: --progress ${progress}: use auto, plain or tty\n`);
    return 125;
  }
  let secrets: Record<string, BuildSecret>;
  try {
    secrets = parseSecrets(p.get("secret"));
  } catch (e) {
    io.err(`Error: ${(e as Error).message}\n`);
    return 125;
  }
  let stdinData: Uint8Array | undefined;
  const stdin = () => (stdinData ??= readStdin());
  try {
    const result = await build(engine, {
      context: p.args[0]!, file: p.get("file"), stdin, tags: p.get("tag"), buildArgs: keyValue(p.get("build-arg"), "--build-arg"),
      target: p.get("target"), noCache: p.get("no-cache"), labels: keyValue(p.get("label"), "--label"), network: network === "default" ? "none" : network,
      pull: p.get("pull"), secrets,
    }, {
      out: (s) => { if (!quiet) io.out(s); },
      err: (s) => io.err(s),
      runOutput: (stream, data) => { if (!quiet) writeFully(stream === "stderr" ? 2 : 1, data); },
    });
    const id = result.image.id;
    const iid = p.get("iidfile");
    if (iid) writeFileSync(iid, id);
    if (quiet) io.out(`${id}\n`);
    else {
      io.out(`Successfully built ${id.slice(7, 19)}\n`);
      for (const t of result.tags) io.out(`Successfully tagged ${t}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof BuildError) {
      io.err(`${e.message}\n`);
      return e.exitCode === 125 ? 125 : 1;
    }
    throw e;
  }
});

export const BUILD_COMMAND: Command = buildCmd;
