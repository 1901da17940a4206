// POST /build: Docker's classic (legacy) builder protocol over the builder `berth build` uses
// (src/build). The body is the context as a tar (gzip or plain; a lone Dockerfile too); the
// progress goes out as JSON lines {"stream": …}, the image as {"aux":{"ID":…}} before docker's
// "Successfully built/tagged" lines, a failure as {"errorDetail":{…},"error":…}. /_ping says
// Builder-Version 1, so the docker CLI uses this protocol (BuildKit's session endpoints do not exist).
// The builder (src/build: Dockerfile parser, context, .dockerignore) is imported at the first
// build, not when the service starts: an idle service does not hold it.
import { ApiError, badRequest } from "./http.ts";
import type { Ctx } from "./router.ts";

/** The largest build context a client may upload (it is held in memory while it is unpacked). */
export const BUILD_CONTEXT_LIMIT = 2 * 1024 ** 3;

/** buildargs / labels: a JSON object of strings (a null value: take nothing, as docker). */
function jsonMap(ctx: Ctx, name: string): Record<string, string> {
  const raw = ctx.query.str(name);
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid ${name}: not JSON (${raw})`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw badRequest(`invalid ${name}: expected a JSON object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === null) continue;
    if (typeof val !== "string") throw badRequest(`invalid ${name}: the value of ${k} is not a string`);
    out[k] = val;
  }
  return out;
}

async function readContext(ctx: Ctx): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > BUILD_CONTEXT_LIMIT) throw new ApiError(413, `build context too large (the limit is ${BUILD_CONTEXT_LIMIT} bytes); use a .dockerignore`);
    chunks.push(c);
  }
  if (!ctx.req.complete) throw badRequest("the build context upload ended early; nothing was built");
  return Buffer.concat(chunks);
}

export async function buildImage(ctx: Ctx): Promise<void> {
  const q = ctx.query;
  if (q.str("remote")) throw badRequest("building from a remote context (remote=…) is not supported by berth (no network access); send the context as a tar");
  const version = q.str("version");
  if (version === "2") throw badRequest("BuildKit builds (version=2) are not supported by berth; use the classic builder (DOCKER_BUILDKIT=0)");
  const tags = q.params.getAll("t").filter(Boolean);
  const buildArgs = jsonMap(ctx, "buildargs");
  const labels = jsonMap(ctx, "labels");
  const net = q.str("networkmode") ?? "default";
  if (!["default", "none", "host", ""].includes(net)) throw badRequest(`networkmode ${net}: a build's RUN steps run with none (the default) or host`);
  const platform = q.str("platform");
  if (platform && platform !== `linux/${process.arch === "x64" ? "amd64" : process.arch}` && platform !== "linux") {
    throw badRequest(`platform ${platform}: berth builds for this host's platform only`);
  }
  const quiet = q.bool("q");
  const context = await readContext(ctx);
  const { build, BuildError } = await import("../build/builder.ts");

  const res = ctx.res!;
  res.writeHead(200, { "Content-Type": "application/json" });
  const send = (m: Record<string, unknown>) => { if (!res.destroyed) res.write(`${JSON.stringify(m)}\n`); };
  const stream = (text: string) => { if (!quiet && text) send({ stream: text }); };
  // A RUN step's output may split a character between chunks: one decoder per stream.
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  try {
    const result = await build(ctx.engine, {
      context: "-", stdin: () => context, tags, buildArgs, labels, noCache: q.bool("nocache"),
      ...(q.str("dockerfile") ? { file: q.str("dockerfile")! } : {}),
      ...(q.str("target") ? { target: q.str("target")! } : {}),
      network: net === "host" ? "host" : "none",
      // docker build --pull: the builder pulls the images FROM names (and, as docker, any it lacks)
      pull: q.bool("pull"),
    }, {
      out: stream,
      err: stream,
      runOutput: (s, data) => stream(decoders[s].decode(data, { stream: true })),
    });
    const id = result.image.id;
    send({ aux: { ID: id } });
    if (quiet) send({ stream: `${id}\n` });
    else {
      send({ stream: `Successfully built ${id.slice(7, 19)}\n` });
      for (const t of result.tags) send({ stream: `Successfully tagged ${t}\n` });
    }
    for (const t of result.tags) ctx.events.emit("image", "tag", id, { name: t });
  } catch (e) {
    // After the headers, every failure is the stream's last line (docker prints it and exits 1).
    const message = e instanceof BuildError ? e.message : `build failed: ${(e as Error).message}`;
    send({ errorDetail: { message }, error: message });
  }
  res.end();
}
