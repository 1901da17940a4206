// berth push/pull against Debian's docker-registry on loopback, cross-checked with skopeo both ways.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CryptoHasher } from "bun";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { berthAsync as berth, type Registry, skopeo, startRegistry } from "./helpers.ts";

let reg: Registry;
let root: string;
const roots: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), "berth-regtest-"));

function freshRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "berth-pull-"));
  roots.push(r);
  return r;
}

function inspect(r: string, ref: string): { Id: string; RepoDigests: string[]; RootFS: { Layers: string[] }; Architecture: string } {
  const out = Bun.spawnSync([join(import.meta.dir, "../../bin/berth"), "--root", r, "image", "inspect", ref]);
  if (out.exitCode !== 0) throw new Error(out.stderr.toString());
  return JSON.parse(out.stdout.toString())[0];
}

beforeAll(async () => {
  reg = await startRegistry();
  root = await engineRoot();
});

afterAll(async () => {
  await reg?.stop();
  if (root) cleanupRoot(root);
  for (const r of roots) cleanupRoot(r);
  rmSync(scratch, { recursive: true, force: true });
});

describe("push and pull", () => {
  test("push busybox, rmi, pull back: the same image ID and digests; it runs", async () => {
    const name = `${reg.host}/test/busybox:1`;
    expect((await berth(root, ["tag", "busybox", name])).code).toBe(0);
    const before = inspect(root, name);
    const push = await berth(root, ["push", name]);
    expect(push.stderr).toBe("");
    expect(push.code).toBe(0);
    expect(push.stdout).toContain(`The push refers to repository [${reg.host}/test/busybox]`);
    expect(push.stdout).toMatch(/1: digest: sha256:[a-f0-9]{64} size: \d+/);
    const manifestDigest = /digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)![1]!;
    expect(before.RepoDigests).toContain(`${reg.host}/test/busybox@${manifestDigest}`);

    expect((await berth(root, ["rmi", "-f", name, "busybox"])).code).toBe(0);
    expect((await berth(root, ["images", "-q"])).stdout.trim()).toBe("");
    const pull = await berth(root, ["pull", name]);
    expect(pull.stderr).toBe("");
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain("1: Pulling from test/busybox");
    expect(pull.stdout).toContain("Pull complete");
    expect(pull.stdout).toContain(`Digest: ${manifestDigest}`);
    expect(pull.stdout.trim().split("\n").at(-1)).toBe(name);
    const after = inspect(root, name);
    expect(after.Id).toBe(before.Id);
    expect(after.RootFS.Layers).toEqual(before.RootFS.Layers);
    expect(after.RepoDigests).toEqual([`${reg.host}/test/busybox@${manifestDigest}`]);
    const run = await berth(root, ["run", "--rm", "--network", "none", name, "echo", "pulled"]);
    expect(run.stdout).toBe("pulled\n");
    expect(existsSync(join(root, "downloads")) ? readdirSync(join(root, "downloads")).filter((f) => f.endsWith(".partial")) : []).toEqual([]);

    // pulled again: nothing new
    const again = await berth(root, ["pull", name]);
    expect(again.stdout).toContain("Status: Image is up to date");
    const quiet = await berth(root, ["pull", "-q", name]);
    expect(quiet.stdout).toBe(`${name}\n`);

    // skopeo reads what berth pushed, and can copy it
    const si = await skopeo(["inspect", "--tls-verify=false", `docker://${name}`]);
    expect(si.code).toBe(0);
    expect(JSON.parse(si.stdout).Digest).toBe(manifestDigest);
    const dir = join(scratch, "skopeo-copy");
    const sc = await skopeo(["copy", "--src-tls-verify=false", `docker://${name}`, `dir:${dir}`]);
    expect(sc.stderr).toBe("");
    expect(sc.code).toBe(0);
    expect(existsSync(join(dir, "manifest.json"))).toBe(true);
  });

  test("a second repository: layers the registry has are mounted, layers the store has are not fetched", async () => {
    const a = `${reg.host}/test/busybox:1`;
    const b = `${reg.host}/other/copy:2`;
    expect((await berth(root, ["tag", a, b])).code).toBe(0);
    const push = await berth(root, ["push", b]);
    expect(push.code).toBe(0);
    expect(push.stdout).toContain("Mounted from test/busybox");
    // another store has the layer (from the first repository); pulling the second fetches no layer
    const r2 = freshRoot();
    expect((await berth(r2, ["pull", "-q", a])).code).toBe(0);
    const pull = await berth(r2, ["pull", b]);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain("Already exists");
    expect(pull.stdout).not.toContain("Pulling fs layer");
  });

  test("chunked upload (PATCH with Content-Range), then a pull in an empty store gives the same image", async () => {
    const r2 = freshRoot();
    const src = await engineRoot();
    roots.push(src);
    const fresh = `${reg.host}/fresh/chunked:1`;
    expect((await berth(src, ["tag", "busybox", fresh])).code).toBe(0);
    const p2 = await berth(src, ["push", fresh], { env: { BERTH_PUSH_CHUNK_SIZE: "65536" } });
    expect(p2.code).toBe(0);
    expect(p2.stdout).toContain("Pushed");
    expect((await berth(r2, ["pull", "-q", fresh])).code).toBe(0);
    expect(inspect(r2, fresh).Id).toBe(inspect(src, fresh).Id);
    const sc = await skopeo(["inspect", "--tls-verify=false", `docker://${fresh}`]);
    expect(sc.code).toBe(0);
  });

  test("what skopeo pushes — an OCI index of two platforms with zstd layers — berth pulls and runs", async () => {
    const layout = join(scratch, "layout");
    const tar = join(scratch, "layout.tar");
    expect((await berth(root, ["save", "--format", "oci", "-o", tar, `${reg.host}/test/busybox:1`])).code).toBe(0);
    mkdirSync(layout);
    expect(Bun.spawnSync(["tar", "-C", layout, "-xf", tar]).exitCode).toBe(0);
    twoPlatformIndex(layout, "multi");
    const name = `${reg.host}/test/multi:1`;
    const cp = await skopeo(["copy", "--all", "--dest-tls-verify=false", "--format", "oci", "--dest-compress", "--dest-compress-format", "zstd", `oci:${layout}:multi`, `docker://${name}`]);
    expect(cp.code).toBe(0);
    const raw = JSON.parse((await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${name}`])).stdout);
    expect(raw.mediaType).toBe("application/vnd.oci.image.index.v1+json");

    const r2 = freshRoot();
    const pull = await berth(r2, ["pull", name]);
    expect(pull.stderr).toBe("");
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain(`Digest: sha256:`);
    const amd = inspect(r2, name);
    expect(amd.Architecture).toBe("amd64");
    const run = await berth(r2, ["run", "--rm", "--network", "none", name, "sh", "-c", "echo zstd layer ok"]);
    expect(run.stdout).toBe("zstd layer ok\n");
    const arm = await berth(r2, ["pull", "--platform", "linux/arm64", `${reg.host}/test/multi:1`]);
    expect(arm.code).toBe(0);
    expect(inspect(r2, name).Architecture).toBe("arm64");
    // by the index's digest: run pulls it (the store keeps the platform's manifest) and runs it
    const indexDigest = /Digest: (sha256:[a-f0-9]{64})/.exec(pull.stdout)![1]!;
    // docker's RepoDigest: the index's digest (the one the tag resolved to), besides the manifest's
    expect(inspect(r2, name).RepoDigests).toContain(`${reg.host}/test/multi@${indexDigest}`);
    const r3 = freshRoot();
    const byDigest = await berth(r3, ["run", "--rm", "--network", "none", `${reg.host}/test/multi@${indexDigest}`, "echo", "by index digest"]);
    expect(byDigest.stdout).toBe("by index digest\n");
    expect(byDigest.code).toBe(0);
    // found by that digest from now on: a second run pulls nothing
    const again = await berth(r3, ["run", "--rm", "--network", "none", `${reg.host}/test/multi@${indexDigest}`, "true"]);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("Unable to find image");
    const none = await berth(r2, ["pull", "--platform", "linux/s390x", name]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no matching manifest for linux/s390x");
    expect(none.stderr).toContain("linux/amd64, linux/arm64");
  });

  test("a Docker schema 2 manifest with a gzip layer (as docker push writes it), pushed by skopeo, pulls and runs", async () => {
    const tar = join(scratch, "v2s2.tar");
    expect((await berth(root, ["save", "-o", tar, `${reg.host}/test/busybox:1`])).code).toBe(0);
    const name = `${reg.host}/test/v2s2:1`;
    const cp = await skopeo(["copy", "--dest-tls-verify=false", "--format", "v2s2", "--dest-compress", `docker-archive:${tar}`, `docker://${name}`]);
    expect(cp.stderr).toBe("");
    expect(cp.code).toBe(0);
    const raw = JSON.parse((await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${name}`])).stdout);
    expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(raw.layers[0].mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
    const r2 = freshRoot();
    const pull = await berth(r2, ["pull", "-q", name]);
    expect(pull.stderr).toBe("");
    expect(pull.code).toBe(0);
    const run = await berth(r2, ["run", "--rm", "--network", "none", name, "echo", "v2s2 ok"]);
    expect(run.stdout).toBe("v2s2 ok\n");
    // and berth pushes it back byte for byte: the same manifest digest under another name
    const again = `${reg.host}/test/v2s2-copy:1`;
    expect((await berth(r2, ["tag", name, again])).code).toBe(0);
    const push = await berth(r2, ["push", again]);
    expect(push.code).toBe(0);
    const d1 = JSON.parse((await skopeo(["inspect", "--tls-verify=false", `docker://${name}`])).stdout).Digest;
    const d2 = JSON.parse((await skopeo(["inspect", "--tls-verify=false", `docker://${again}`])).stdout).Digest;
    expect(d2).toBe(d1);
  });

  test("run pulls a missing image (--pull missing), --pull never refuses, pull -a fetches every tag", async () => {
    const r2 = freshRoot();
    const never = await berth(r2, ["run", "--rm", "--pull", "never", "--network", "none", `${reg.host}/test/busybox:1`, "true"]);
    expect(never.code).toBe(125);
    expect(never.stderr).toContain("Unable to find image");
    const run = await berth(r2, ["run", "--rm", "--network", "none", `${reg.host}/test/busybox:1`, "echo", "auto"]);
    expect(run.stdout).toBe("auto\n");
    expect(run.stderr).toContain(`Unable to find image '${reg.host}/test/busybox:1' locally`);
    expect(run.stderr).toContain("Status: Downloaded newer image");
    const always = await berth(r2, ["run", "--rm", "--pull", "always", "--network", "none", `${reg.host}/test/busybox:1`, "echo", "always"]);
    expect(always.stdout).toBe("always\n");
    expect(always.stderr).not.toContain("Unable to find image");
    expect(always.stderr).toContain(`Status: Image is up to date for ${reg.host}/test/busybox:1`);
    const bad = await berth(r2, ["create", "--pull", "sometimes", `${reg.host}/test/busybox:1`]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain(`invalid pull option: 'sometimes'`);
    const all = await berth(r2, ["pull", "-a", "-q", `${reg.host}/test/busybox`]);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(`${reg.host}/test/busybox:1\n`);
  });
});

describe("registries.json", () => {
  test("a mirror for docker.io serves the pull of a docker.io name (nothing goes beyond loopback)", async () => {
    const r2 = freshRoot();
    writeFileSync(join(r2, "registries.json"), JSON.stringify({ mirrors: { "docker.io": [reg.host] } }));
    const pull = await berth(r2, ["pull", "test/busybox:1"]);
    expect(pull.stderr).toBe("");
    expect(pull.code).toBe(0);
    expect(pull.stdout.trim().split("\n").at(-1)).toBe("docker.io/test/busybox:1");
    const run = await berth(r2, ["run", "--rm", "--network", "none", "test/busybox:1", "echo", "via mirror"]);
    expect(run.stdout).toBe("via mirror\n");
  });

  test("a malformed registries.json is refused by name", async () => {
    const r2 = freshRoot();
    writeFileSync(join(r2, "registries.json"), JSON.stringify({ "insecure-registries": "not-a-list" }));
    const pull = await berth(r2, ["pull", `${reg.host}/test/busybox:1`]);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`${join(r2, "registries.json")}: "insecure-registries" must be a list`);
  });
});

/** Turns a one-image OCI layout into one whose ref `tag` is an index of amd64 and arm64 images. */
function twoPlatformIndex(dir: string, tag: string): void {
  const sha = (b: string) => `sha256:${new CryptoHasher("sha256").update(b).digest("hex")}`;
  const blob = (d: string) => readFileSync(join(dir, "blobs/sha256", d.slice(7)), "utf8");
  const put = (b: string) => {
    const digest = sha(b);
    writeFileSync(join(dir, "blobs/sha256", digest.slice(7)), b);
    return { digest, size: Buffer.byteLength(b) };
  };
  const top = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const m1 = top.manifests[0];
  const manifest = JSON.parse(blob(m1.digest));
  const config = JSON.parse(blob(manifest.config.digest));
  const c2 = put(JSON.stringify({ ...config, architecture: "arm64" }));
  const m2 = put(JSON.stringify({ ...manifest, config: { ...manifest.config, ...c2 } }));
  const index = put(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      { mediaType: m1.mediaType, digest: m1.digest, size: m1.size, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: m1.mediaType, ...m2, platform: { os: "linux", architecture: "arm64" } },
    ],
  }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", ...index, annotations: { "org.opencontainers.image.ref.name": tag } }],
  }));
}
