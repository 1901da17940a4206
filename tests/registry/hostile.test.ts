// Registries that lie or misbehave, served from this process: a layer whose content does not match
// its digest, a blob larger than its manifest says, a redirect to another host, a schema 1
// manifest — each refused with nothing stored. Bearer token auth (realm/service/scope) against
// a token server. And a pull killed mid-layer that the next pull resumes with a Range request.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CryptoHasher, gzipSync } from "bun";
import { BERTH, cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { berthAsync as berth, type Registry, startRegistry } from "./helpers.ts";

const sha = (b: Uint8Array | string) => `sha256:${new CryptoHasher("sha256").update(b).digest("hex")}`;
const roots: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), "berth-hostile-reg-"));

function freshRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "berth-hostile-"));
  roots.push(r);
  return r;
}

/** Whatever a pull left in the store: blobs, snapshots, partial downloads, temporaries, images. */
function stored(root: string): string[] {
  const list = (d: string) => (existsSync(join(root, d)) ? readdirSync(join(root, d)).map((f) => `${d}/${f}`) : []);
  return [...list("blobs/sha256"), ...list("snapshots"), ...list("downloads").filter((f) => !f.endsWith(".lock")), ...list("tmp")];
}

/** A one-layer image made here: a gzip layer of what fill puts in its directory (by default one file). */
function makeImage(name = "layer", fill = (dir: string) => writeFileSync(join(dir, "hello.txt"), "hello from a hostile test\n".repeat(1000))): { manifest: string; config: string; layer: Uint8Array; tar: Uint8Array } {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  fill(dir);
  const tar = new Uint8Array(Bun.spawnSync(["tar", "-C", dir, "--owner=0", "--group=0", "-cf", "-", "."]).stdout);
  const layer = gzipSync(tar);
  const config = JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: [sha(tar)] } });
  const manifest = JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: Buffer.byteLength(config) },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha(layer), size: layer.length }],
  });
  return { manifest, config, layer, tar };
}

let img: ReturnType<typeof makeImage>;
let fake: ReturnType<typeof Bun.serve>;
let other: ReturnType<typeof Bun.serve>;
const tokenRequests: string[] = [];
let flaky = 0; // manifest requests of flaky/img answered 503 so far

beforeAll(() => {
  img = makeImage();
  other = Bun.serve({ hostname: "127.0.0.2", port: 0, fetch: () => new Response(img.layer) });
  fake = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch(req) {
      const u = new URL(req.url);
      if (u.pathname === "/token") {
        tokenRequests.push(u.search);
        return Response.json({ token: "t0k3n" });
      }
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(u.pathname);
      if (u.pathname.startsWith("/v2/token/") && req.headers.get("authorization") !== "Bearer t0k3n") {
        return new Response("{}", { status: 401, headers: { "www-authenticate": `Bearer realm="http://${u.host}/token",service="fake-registry",scope="repository:token/img:pull"` } });
      }
      if (u.pathname === "/v2/") return Response.json({});
      if (!m) return new Response("not found", { status: 404 });
      const [, repo, kind, ref] = m;
      if (kind === "manifests" && repo === "flaky/img" && flaky++ === 0) return new Response("busy", { status: 503 });
      if (kind === "manifests") {
        if (repo === "bad/schema1") return new Response(JSON.stringify({ schemaVersion: 1, name: "bad/schema1", tag: "1", fsLayers: [] }), { headers: { "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws" } });
        return new Response(img.manifest, { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
      }
      if (ref === sha(img.config)) return new Response(img.config);
      if (repo === "bad/digest") {
        const wrong = new Uint8Array(img.layer);
        wrong[wrong.length - 20] = wrong[wrong.length - 20]! ^ 0xff; // same size, other content
        return new Response(wrong);
      }
      if (repo === "bad/big") {
        const big = new Uint8Array(img.layer.length + 4096);
        big.set(img.layer);
        return new Response(big);
      }
      if (repo === "bad/redirect") return Response.redirect(`http://127.0.0.2:${other.port}/blob`, 307);
      return new Response(img.layer);
    },
  });
});

afterAll(async () => {
  fake?.stop(true);
  other?.stop(true);
  for (const r of roots) cleanupRoot(r);
  rmSync(scratch, { recursive: true, force: true });
});

describe("hostile registries", () => {
  const host = () => `127.0.0.1:${fake.port}`;

  test("a layer whose content does not match its digest is refused; nothing is stored", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", `${host()}/bad/digest:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`content digest is sha256:`);
    expect(r.stderr).toContain(`but ${sha(img.layer)} was expected`);
    expect(stored(root)).toEqual([]);
    expect((await berth(root, ["images", "-q"])).stdout).toBe("");
  });

  test("a blob larger than the manifest declares is refused; nothing is stored", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", `${host()}/bad/big:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("larger");
    expect(r.stderr).toContain(`than the manifest declares (${img.layer.length})`);
    expect(stored(root)).toEqual([]);
  });

  test("a redirect to another host is refused; nothing is stored", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", `${host()}/bad/redirect:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("redirected");
    expect(r.stderr).toContain(`to another host (http://127.0.0.2:${other.port})`);
    expect(stored(root)).toEqual([]);
  });

  test("a schema 1 manifest is refused, saying why", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", `${host()}/bad/schema1:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("schema version 1, which is obsolete and not supported");
    expect(stored(root)).toEqual([]);
  });

  test("the honest image pulls, verified: diff ID and content as made", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", `${host()}/good/img:1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ins = JSON.parse(Bun.spawnSync([BERTH, "--root", root, "image", "inspect", `${host()}/good/img:1`]).stdout.toString())[0];
    expect(ins.Id).toBe(sha(img.config));
    expect(ins.RootFS.Layers).toEqual([sha(img.tar)]);
  });

  test("a 503 on a manifest is asked again, and the pull goes on", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", "-q", `${host()}/flaky/img:1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(flaky).toBe(2);
  });

  test("Bearer token auth: the token is asked from the realm with service and scope, then used", async () => {
    const root = freshRoot();
    tokenRequests.length = 0;
    const r = await berth(root, ["pull", `${host()}/token/img:1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(tokenRequests.length).toBeGreaterThan(0);
    const q = new URLSearchParams(tokenRequests[0]);
    expect(q.get("service")).toBe("fake-registry");
    expect(q.get("scope")).toBe("repository:token/img:pull");
  });
});

describe("resumable pulls", () => {
  let reg: Registry;
  let src: string;
  let proxy: ReturnType<typeof Bun.serve>;
  let stall = true;
  let cut = false; // once: the connection breaks after the first part
  let stallOnce = false; // once: the first part, then silence
  const ranges: string[] = [];
  let sentBeforeStall = 0;

  beforeAll(async () => {
    reg = await startRegistry();
    src = await engineRoot();
    roots.push(src);
    // A proxy in front of the registry that, while `stall` is set, sends only the first part of a
    // layer blob and then nothing more (the pull hangs there until it is killed).
    proxy = Bun.serve({
      hostname: "127.0.0.1", port: 0, idleTimeout: 0,
      async fetch(req) {
        const u = new URL(req.url);
        const headers = new Headers(req.headers);
        headers.delete("host");
        const up = await fetch(`http://${reg.host}${u.pathname}${u.search}`, { method: req.method, headers, redirect: "manual" });
        const isBlob = /\/blobs\/sha256:/.test(u.pathname) && req.method === "GET";
        if (isBlob) ranges.push(req.headers.get("range") ?? "");
        const body = new Uint8Array(await up.arrayBuffer());
        if (isBlob && stallOnce && body.length >= 1 << 20) {
          stallOnce = false;
          const part = body.subarray(0, 256 << 10);
          return new Response(new ReadableStream({ start: (c) => c.enqueue(part) }), { status: up.status, headers: up.headers });
        }
        if (isBlob && cut && body.length >= 1 << 20) {
          cut = false;
          const part = body.subarray(0, 256 << 10);
          return new Response(new ReadableStream({
            async start(c) {
              c.enqueue(part);
              await Bun.sleep(50);
              c.error(new Error("connection cut by the test"));
            },
          }), { status: up.status, headers: up.headers });
        }
        if (!isBlob || !stall || body.length < 1 << 20) return new Response(req.method === "HEAD" ? null : body, { status: up.status, headers: up.headers });
        const part = body.subarray(0, 512 << 10);
        return new Response(new ReadableStream({
          start(c) {
            c.enqueue(part);
            sentBeforeStall = part.length; // and never close
          },
        }), { status: up.status, headers: up.headers });
      },
    });
  });

  afterAll(async () => {
    proxy?.stop(true);
    await reg?.stop();
  });

  test("a pull killed in the middle of a layer continues where it stopped (Range), and the image is whole", async () => {
    const name = `${reg.host}/test/resume:1`;
    expect((await berth(src, ["tag", "busybox", name])).code).toBe(0);
    expect((await berth(src, ["push", "-q", name])).code).toBe(0);
    const via = `127.0.0.1:${proxy.port}/test/resume:1`;
    const root = freshRoot();
    const p = Bun.spawn([BERTH, "--root", root, "pull", via], { stdout: "ignore", stderr: "ignore" });
    const partial = () => (existsSync(join(root, "downloads")) ? readdirSync(join(root, "downloads")).filter((f) => f.endsWith(".partial")) : []);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(sentBeforeStall > 0 && partial().length === 1 && statSync(join(root, "downloads", partial()[0]!)).size === sentBeforeStall)) await Bun.sleep(50);
    expect(partial().length).toBe(1);
    const had = statSync(join(root, "downloads", partial()[0]!)).size;
    expect(had).toBe(512 << 10);
    p.kill("SIGKILL");
    await p.exited;

    stall = false;
    ranges.length = 0;
    const r = await berth(root, ["pull", via]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(ranges).toContain(`bytes=${had}-`);
    const id = (await berth(root, ["images", "-q", "--no-trunc"])).stdout.trim();
    const want = (await berth(src, ["images", "-q", "--no-trunc", name])).stdout.trim();
    expect(id).toBe(want);
    expect(partial()).toEqual([]);
    const run = await berth(root, ["run", "--rm", "--network", "none", via, "echo", "resumed"]);
    expect(run.stdout).toBe("resumed\n");
  });
  test("a connection broken in the middle of a layer is retried within the same pull, from where it broke", async () => {
    const via = `127.0.0.1:${proxy.port}/test/resume:1`;
    const root = freshRoot();
    stall = false;
    cut = true;
    ranges.length = 0;
    const r = await berth(root, ["pull", via]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Retrying (1)");
    const resumed = ranges.filter((x) => x !== ""); // the config and the layer's first GET ask for everything
    expect(resumed.length).toBe(1);
    expect(resumed[0]).toMatch(/^bytes=[1-9]\d*-$/);
    const run = await berth(root, ["run", "--rm", "--network", "none", via, "echo", "whole"]);
    expect(run.stdout).toBe("whole\n");
  });
  test("image prune removes what interrupted pulls left in downloads/ and counts it", async () => {
    const root = freshRoot();
    mkdirSync(join(root, "downloads"), { recursive: true });
    writeFileSync(join(root, "downloads", `${"ab".repeat(32)}.partial`), Buffer.alloc(300_000));
    writeFileSync(join(root, "downloads", `${"ab".repeat(32)}.partial.lock`), "");
    const r = await berth(root, ["image", "prune", "-f"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Total reclaimed space: 300kB");
    expect(readdirSync(join(root, "downloads"))).toEqual([]);
  });
  test("a download that goes silent is cut after the registry timeout and resumed from where it stopped", async () => {
    const via = `127.0.0.1:${proxy.port}/test/resume:1`;
    const root = freshRoot();
    stall = false;
    stallOnce = true;
    ranges.length = 0;
    const r = await berth(root, ["pull", via], { env: { BERTH_REGISTRY_TIMEOUT_MS: "2000" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no data for 2 s");
    expect(ranges.filter((x) => x !== "")[0]).toBe(`bytes=${256 << 10}-`);
  });
});

// A layer of 8 MB or more goes another way: its partial file is written by the blob worker with
// O_DIRECT, in 1 MB stages at block-aligned offsets, as the worker hashes it. The same
// promises hold: a wrong or oversized blob leaves nothing; a killed pull resumes from the whole
// stages it wrote; a broken connection resumes, in the same pull, from the last whole block it got.
describe("big layers (their partial file written by the blob worker)", () => {
  let big: { manifest: string; config: string; layer: Uint8Array; tar: Uint8Array };
  let server: ReturnType<typeof Bun.serve>;
  const ranges: string[] = [];
  let stallAt = 0; // once: send this many bytes of the layer, then nothing (the pull hangs)
  let cutAt = 0;   // once: send this many bytes, then break the connection
  let sentBeforeStall = 0;

  beforeAll(() => {
    big = makeImage("big-layer", (dir) => {
      mkdirSync(join(dir, "etc"));
      const noise = new Uint8Array(12 << 20);
      for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
      writeFileSync(join(dir, "noise.bin"), noise); // incompressible: the gzip layer stays over 8 MB
      for (let i = 0; i < 600; i++) writeFileSync(join(dir, "etc", `f${i}`), `file ${i}\n`);
    });
    server = Bun.serve({
      hostname: "127.0.0.1", port: 0, idleTimeout: 0,
      fetch(req) {
        const u = new URL(req.url);
        if (u.pathname === "/v2/") return Response.json({});
        const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(u.pathname);
        if (!m) return new Response("not found", { status: 404 });
        const [, repo, kind, ref] = m;
        if (kind === "manifests") return new Response(big.manifest, { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
        if (ref === sha(big.config)) return new Response(big.config);
        let body = big.layer;
        if (repo === "bad/digest") {
          body = new Uint8Array(big.layer);
          body[body.length >> 1] = body[body.length >> 1]! ^ 0xff; // same size, other content
        }
        if (repo === "bad/big") {
          body = new Uint8Array(big.layer.length + 4096);
          body.set(big.layer);
        }
        const range = req.headers.get("range") ?? "";
        ranges.push(range);
        const from = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
        const headers = from > 0 ? { "content-range": `bytes ${from}-${body.length - 1}/${body.length}` } : {};
        const rest = body.subarray(from);
        const status = from > 0 ? 206 : 200;
        if (stallAt > 0) {
          const part = rest.subarray(0, stallAt);
          stallAt = 0;
          return new Response(new ReadableStream({ start: (c) => { c.enqueue(part); sentBeforeStall = part.length; } }), { status, headers });
        }
        if (cutAt > 0) {
          const part = rest.subarray(0, cutAt);
          cutAt = 0;
          return new Response(new ReadableStream({
            async start(c) {
              c.enqueue(part);
              await Bun.sleep(100);
              c.error(new Error("connection cut by the test"));
            },
          }), { status, headers });
        }
        return new Response(rest, { status, headers });
      },
    });
  });

  afterAll(() => {
    server?.stop(true);
  });

  const host = () => `127.0.0.1:${server.port}`;
  const blobFile = (root: string) => join(root, "blobs/sha256", sha(big.layer).slice(7));
  const fileSha = async (p: string) => sha(new Uint8Array(await Bun.file(p).arrayBuffer()));

  test("pulls whole: the stored blob is the registry's bytes, the image the one made", async () => {
    expect(big.layer.length).toBeGreaterThan(8 << 20);
    const root = freshRoot();
    const r = await berth(root, ["pull", "--tls-verify=false", `${host()}/big/img:1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await fileSha(blobFile(root))).toBe(sha(big.layer));
    expect((await berth(root, ["images", "-q", "--no-trunc"])).stdout.trim()).toBe(sha(big.config));
    const dir = join(root, "snapshots", sha(big.tar).slice(7), "diff"); // one layer: chain ID = diff ID
    expect(statSync(join(dir, "noise.bin")).size).toBe(12 << 20);
    expect(readdirSync(join(dir, "etc")).length).toBe(600);
  });

  test("pulls whole without a `sync` program (the early flush of a big layer is only a head start)", async () => {
    const root = freshRoot();
    const r = await berth(root, ["pull", "--tls-verify=false", `${host()}/big/img:1`], { env: { PATH: "/nonexistent" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await fileSha(blobFile(root))).toBe(sha(big.layer));
    expect(statSync(join(root, "snapshots", sha(big.tar).slice(7), "diff", "noise.bin")).size).toBe(12 << 20);
  });

  for (const [what, repo, said] of [
    ["a big layer whose content does not match its digest", "bad/digest", "digest"],
    ["a big blob larger than the manifest declares", "bad/big", "larger"],
  ] as const) {
    test(`${what} is refused; nothing is stored`, async () => {
      const root = freshRoot();
      const r = await berth(root, ["pull", "--tls-verify=false", `${host()}/${repo}:1`]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(said);
      expect(stored(root).filter((f) => !f.endsWith(sha(big.config).slice(7)))).toEqual([]);
    });
  }

  test("a pull killed in the middle resumes from the whole stages written (Range), and the blob is the registry's bytes", async () => {
    const root = freshRoot();
    stallAt = (3 << 20) + 1000;
    sentBeforeStall = 0;
    const p = Bun.spawn([BERTH, "--root", root, "pull", "--tls-verify=false", `${host()}/big/img:1`], { stdout: "ignore", stderr: "ignore" });
    const partial = () => (existsSync(join(root, "downloads")) ? readdirSync(join(root, "downloads")).filter((f) => f.endsWith(".partial")) : []);
    const size = () => (partial().length === 1 ? statSync(join(root, "downloads", partial()[0]!)).size : -1);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(sentBeforeStall > 0 && size() === 3 << 20)) await Bun.sleep(50);
    expect(size()).toBe(3 << 20); // the 1000 bytes after the third stage were only staged
    p.kill("SIGKILL");
    await p.exited;
    ranges.length = 0;
    const r = await berth(root, ["pull", "--tls-verify=false", `${host()}/big/img:1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(ranges).toEqual([`bytes=${3 << 20}-`]);
    expect(partial()).toEqual([]);
    expect(await fileSha(blobFile(root))).toBe(sha(big.layer));
    expect((await berth(root, ["images", "-q", "--no-trunc"])).stdout.trim()).toBe(sha(big.config));
  });

  test("a connection broken at an odd offset is retried in the same pull from the last whole block, and the blob is whole", async () => {
    const root = freshRoot();
    cutAt = (2 << 20) + 777;
    ranges.length = 0;
    const r = await berth(root, ["pull", "--tls-verify=false", `${host()}/big/img:1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Retrying (1)");
    // what the first attempt got (staged or written) is kept on the abort, cut to a 4 KiB boundary
    expect(ranges.length).toBe(2);
    expect(ranges[0]).toBe("");
    const from = Number(/^bytes=(\d+)-$/.exec(ranges[1]!)?.[1] ?? -1);
    expect(from).toBeGreaterThan(0);
    expect(from % 4096).toBe(0);
    expect(from).toBeLessThanOrEqual((2 << 20) + 777);
    expect(await fileSha(blobFile(root))).toBe(sha(big.layer));
    expect((await berth(root, ["images", "-q", "--no-trunc"])).stdout.trim()).toBe(sha(big.config));
  });
});
