// berth build pulls what FROM names when the store lacks it (and always with --pull), through the
// engine's registry client, from Debian's docker-registry on loopback (never another registry);
// FROM --platform takes the host's own platform ($BUILDPLATFORM) and refuses others clearly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { makeContext } from "./helpers.ts";
import { type Registry, startRegistry } from "../registry/helpers.ts";

let reg: Registry;
let root: string;
let empty: string;
let work: string;
let base: string;

beforeAll(async () => {
  reg = await startRegistry();
  root = await engineRoot();
  empty = mkdtempSync(join(tmpdir(), "berth-build-pull-"));
  work = mkdtempSync(join(tmpdir(), "berth-build-ctx-"));
  base = `${reg.host}/test/base:1`;
  expect(berth(root, ["tag", "busybox", base]).code).toBe(0);
  const push = berth(root, ["push", base]);
  expect(push.stderr).toBe("");
  expect(push.code).toBe(0);
});

afterAll(async () => {
  await reg?.stop();
  if (root) cleanupRoot(root);
  if (empty) cleanupRoot(empty);
  rmSync(work, { recursive: true, force: true });
});

const context = (name: string, dockerfile: string): string => makeContext(work, name, { Dockerfile: dockerfile });

describe("berth build pulls its base images", () => {
  test("a FROM image not in the store is pulled from the registry, and the build runs on it", () => {
    const ctx = context("missing", `FROM ${base}\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n`);
    const b = berth(empty, ["build", "-t", "pulled-build", ctx]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout).toContain(`Unable to find image '${base}' locally`);
    expect(b.stdout).toContain("Pull complete");
    expect(b.stdout).toContain(`Status: Downloaded newer image for ${base}`);
    expect(berth(empty, ["run", "--rm", "--network", "none", "pulled-build"]).stdout).toBe("built\n");
    // the base is in the store now, under its name
    expect(berth(empty, ["image", "inspect", "-f", "{{.Id}}", base]).stdout.trim()).toBe(berth(root, ["image", "inspect", "-f", "{{.Id}}", base]).stdout.trim());

    // again: no pull (the store has it), every step cached
    const again = berth(empty, ["build", "-t", "pulled-build", ctx]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain("Pulling");
    expect(again.stdout).not.toContain("Unable to find image");
    expect(again.stdout).toContain("Using cache");
  });

  test("--pull pulls the base even when the store has it; the registry's newer image is used", () => {
    const ctx = context("always", `FROM ${base}\nRUN cat /v.txt 2>/dev/null || echo none\n`);
    const first = berth(empty, ["build", "--pull", ctx]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Pulling ${base}`);
    expect(first.stdout).toContain("Status: Image is up to date");

    // a newer base in the registry: a plain build keeps the store's, --pull takes the new one
    const newer = context("newer", "FROM busybox\nRUN echo v2 > /v.txt\n");
    expect(berth(root, ["build", "-t", base, newer]).code).toBe(0);
    expect(berth(root, ["push", base]).code).toBe(0);
    const plain = berth(empty, ["build", ctx]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("Using cache");
    const pulled = berth(empty, ["build", "--pull", ctx]);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain("Downloaded newer image");
    expect(pulled.stdout).toContain("v2");
    expect(pulled.stdout).not.toContain("Using cache");
    // FROM an image ID with --pull: the store's image, nothing pulled
    const id = berth(empty, ["image", "inspect", "-f", "{{.Id}}", base]).stdout.trim();
    const byId = berth(empty, ["build", "--pull", context("by-id", `FROM ${id.slice(7, 19)}\nRUN echo by-id\n`)]);
    expect(byId.stderr).toBe("");
    expect(byId.code).toBe(0);
    expect(byId.stdout).not.toContain("Pulling");
  });

  test("a FROM image that no registry has: the step, the reference and the registry's answer", () => {
    const ctx = context("absent", `FROM ${reg.host}/test/nothing:1\nRUN true\n`);
    const b = berth(empty, ["build", ctx]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain(`Step 1/2 : FROM ${reg.host}/test/nothing:1`);
    expect(b.stderr).toContain(`pulling ${reg.host}/test/nothing:1`);
  });

  test("FROM --platform=$BUILDPLATFORM and linux/amd64 build; another platform is refused clearly; COPY --link copies", () => {
    writeFileSync(join(work, "f.txt"), "x");
    const ok = context("platform", `FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\nRUN echo arch=$TARGETARCH\nFROM --platform=linux/amd64 busybox\nCOPY --link --from=b /bin/busybox /copied\nRUN test -x /copied && echo linked\n`);
    const b = berth(root, ["build", ok]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("arch=amd64");
    expect(b.stdout).toContain("linked");

    const other = context("other", "FROM --platform=linux/arm64 busybox\nRUN true\n");
    const r = berth(root, ["build", other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is for linux/amd64, not linux/arm64");
    // from the registry, which has it only for amd64: the registry's refusal, named
    const pulled = context("other-pull", `FROM --platform=linux/arm64 ${base}\nRUN true\n`);
    const p = berth(empty, ["build", "--pull", pulled]);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain("linux/arm64");
  });
});
