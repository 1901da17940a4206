// RUN --mount as a user writes it: a --secret seen at /run/secrets/ID during that RUN only and in
// no layer (the saved image and the whole state root are searched for its bytes); a cache mount
// that persists between builds and stays out of the image; bind mounts from the context and from
// a stage, read-only unless rw, whose content is part of the step's cache key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "../engine/helpers.ts";
import { makeContext, steps } from "./helpers.ts";

let root: string;
let work: string;

beforeAll(async () => {
  root = await engineRoot();
  work = mkdtempSync(join(tmpdir(), "berth-build-mounts-"));
});

afterAll(() => {
  cleanupRoot(root);
  rmSync(work, { recursive: true, force: true });
});

const context = (name: string, files: Record<string, string>): string => makeContext(work, name, files);

/** Every file under dir (regular files; gzip and zstd blobs decompressed) that holds the bytes. */
function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        let data: Uint8Array<ArrayBuffer> = new Uint8Array(readFileSync(p));
        if (data[0] === 0x1f && data[1] === 0x8b) data = new Uint8Array(Bun.gunzipSync(data));
        else if (data[0] === 0x28 && data[1] === 0xb5 && data[2] === 0x2f && data[3] === 0xfd) data = new Uint8Array(Bun.zstdDecompressSync(data));
        if (Buffer.from(data).includes(needle)) hits.push(p);
      }
    }
  };
  walk(dir);
  return hits;
}


describe("RUN --mount", () => {
  test("a secret is at /run/secrets/ID during its RUN only, and its bytes are in no layer, no saved image, nowhere in the state root", async () => {
    const secret = `tok-${crypto.randomUUID()}`;
    const secretFile = join(work, "token.txt");
    writeFileSync(secretFile, secret);
    const ctx2 = context("secret2", {
      Dockerfile: `FROM busybox
RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = "${secret}" && stat -c 'mode=%a uid=%u' /run/secrets/tok && echo secret-seen
RUN --mount=type=secret,id=tok,target=/etc/app/tok.conf,mode=0444,uid=1000 stat -c 'custom=%a %u' /etc/app/tok.conf && wc -c < /etc/app/tok.conf
RUN test ! -e /run/secrets/tok && test ! -e /etc/app/tok.conf && test ! -e /etc/app && echo gone-after
RUN --mount=type=secret,id=tok awk '$2=="/run/secrets/tok" {print "secret-fs=" $3 " " $4}' /proc/mounts
RUN --mount=type=secret,id=optional test ! -e /run/secrets/optional && echo optional-absent
`,
    });
    // the Dockerfile itself names the bytes here only to check them; the secret's own file is what is mounted
    const good = berth(root, ["build", "-t", "with-secret", "--secret", `id=tok,src=${secretFile}`, ctx2]);
    expect(good.stderr).toBe("");
    expect(good.code).toBe(0);
    expect(good.stdout).toContain("secret-seen");
    expect(good.stdout).toContain("mode=400 uid=0");
    expect(good.stdout).toContain("custom=444 1000");
    expect(good.stdout).toContain(`${secret.length}\n`);
    expect(good.stdout).toContain("gone-after");
    expect(good.stdout).toMatch(/secret-fs=tmpfs ro,/); // on a tmpfs: never on the disk, read-only
    expect(good.stdout).toContain("optional-absent");

    // The image, saved: no layer holds the secret (the Dockerfile's history names it, so look at
    // layers: the saved tar's blobs other than configs), and the secret file's bytes are nowhere
    // in the store but in that history.
    const saved = join(work, "saved");
    mkdirSync(saved);
    expect(berth(root, ["save", "-o", join(work, "saved.tar"), "with-secret"]).code).toBe(0);
    expect(Bun.spawnSync(["tar", "-xf", join(work, "saved.tar"), "-C", saved]).exitCode).toBe(0);
    const layers = filesHolding(saved, secret).filter((f) => !readFileSync(f, "utf8").includes('"history"'));
    expect(layers).toEqual([]);
    const exported = join(work, "exported.tar");
    const cid = berth(root, ["create", "with-secret"]).stdout.trim();
    expect(berth(root, ["export", "-o", exported, cid]).code).toBe(0);
    expect(readFileSync(exported).includes(secret)).toBe(false);
    berth(root, ["rm", cid]);

    // with a Dockerfile that never names the bytes, in a state root of its own: no file there holds them
    const root2 = await engineRoot();
    try {
      const ctx3 = context("secret3", { Dockerfile: "FROM busybox\nRUN --mount=type=secret,id=tok,required wc -c /run/secrets/tok > /len.txt\n" });
      const third = berth(root2, ["build", "-t", "secret-len", "--secret", `id=tok,src=${secretFile}`, ctx3]);
      expect(third.code).toBe(0);
      expect(berth(root2, ["run", "--rm", "--network", "none", "secret-len", "cat", "/len.txt"]).stdout).toBe(`${secret.length} /run/secrets/tok\n`);
      expect(filesHolding(root2, secret)).toEqual([]);
    } finally {
      cleanupRoot(root2);
    }
    const ctx3 = context("secret4", { Dockerfile: "FROM busybox\nRUN --mount=type=secret,id=tok,required wc -c /run/secrets/tok > /len.txt\n" });
    expect(berth(root, ["build", "-t", "secret-len", "--secret", `id=tok,src=${secretFile}`, ctx3]).code).toBe(0);
    // the cache key holds the secret's id, not its bytes: another value of the same secret is a cache hit
    writeFileSync(secretFile, "another value");
    const again = berth(root, ["build", "-t", "secret-len", "--secret", `id=tok,src=${secretFile}`, ctx3]);
    expect(again.code).toBe(0);
    expect(steps(again.stdout)[1]).toContain(" ---> Using cache");

    // a required secret not given: the step and what to do
    const missing = berth(root, ["build", "--no-cache", ctx3]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("secret tok is required: give it with --secret id=tok,src=PATH");
    // a secret from an environment variable
    const envCtx = context("secret-env", { Dockerfile: "FROM busybox\nRUN --mount=type=secret,id=e,required cat /run/secrets/e && echo\n" });
    const fromEnv = berth(root, ["build", "--no-cache", "--secret", "id=e,env=BERTH_TEST_SECRET", envCtx], { env: { BERTH_TEST_SECRET: "from-the-env" } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain("from-the-env\n");
    const badFlag = berth(root, ["build", "--secret", "src=/nonexistent/x,bogus=1", ctx3]);
    expect(badFlag.code).toBe(125);
    expect(badFlag.stderr).toContain("unexpected key 'bogus'");
  });

  test("a cache mount persists between builds under the state root and stays out of the image", () => {
    const ctx = context("cache", {
      Dockerfile: `FROM busybox
RUN --mount=type=cache,target=/root/.cache/app echo run >> /root/.cache/app/count && echo "runs=$(wc -l < /root/.cache/app/count)"
`,
    });
    const one = berth(root, ["build", "--no-cache", "-t", "cached-mount", ctx]);
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("runs=1");
    const two = berth(root, ["build", "--no-cache", "-t", "cached-mount", ctx]);
    expect(two.stdout).toContain("runs=2");
    const run = berth(root, ["run", "--rm", "--network", "none", "cached-mount", "sh", "-c", "test ! -e /root/.cache && echo not-in-image"]);
    expect(run.stdout).toBe("not-in-image\n");
    expect(existsSync(join(root, "build-cache-mounts"))).toBe(true);
    // the same id under another target, locked: the same directory
    const other = context("cache2", { Dockerfile: "FROM busybox\nRUN --mount=type=cache,id=/root/.cache/app,target=/c,sharing=locked wc -l < /c/count\n" });
    const o = berth(root, ["build", "--no-cache", other]);
    expect(o.code).toBe(0);
    expect(o.stdout).toContain("2\n");
    const bad = context("cache3", { Dockerfile: "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=sometimes true\n" });
    const b = berth(root, ["build", bad]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("sharing=sometimes: shared, private or locked");
  });

  test("bind mounts from the context and from a stage: read-only unless rw, ignored files hidden, a changed file reruns the step", () => {
    const ctx = context("bind", {
      Dockerfile: `FROM busybox AS gen
RUN echo from-stage > /gen.txt
FROM busybox
RUN --mount=type=bind,source=data.txt,target=/mnt/data.txt cat /mnt/data.txt > /copied.txt
RUN --mount=type=bind,from=gen,source=/gen.txt,target=/g.txt cat /g.txt > /from-stage.txt
RUN --mount=type=bind,target=/ctx sh -c 'touch /ctx/x 2>/dev/null && echo writable || echo read-only; test ! -e /ctx/hidden.txt && echo ignored-hidden'
RUN --mount=type=bind,target=/ctx,rw touch /ctx/x && echo wrote
RUN --mount=type=tmpfs,target=/scratch --mount=type=bind,source=data.txt,target=/d.txt sh -c 'cp /d.txt /scratch/ && grep -q tmpfs /proc/mounts && cat /scratch/d.txt | sed s/^/two-mounts:/'
CMD ["cat", "/copied.txt", "/from-stage.txt"]
`,
      "data.txt": "one\n",
      "hidden.txt": "h\n",
      ".dockerignore": "hidden.txt\n",
    });
    const b = berth(root, ["build", "-t", "bound", ctx]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("read-only");
    expect(b.stdout).toContain("ignored-hidden");
    expect(b.stdout).toContain("wrote");
    expect(b.stdout).toContain("two-mounts:one");
    expect(existsSync(join(ctx, "x"))).toBe(false); // rw writes went to a copy
    expect(berth(root, ["run", "--rm", "--network", "none", "bound"]).stdout).toBe("one\nfrom-stage\n");
    const ls = berth(root, ["run", "--rm", "--network", "none", "bound", "sh", "-c", "ls /ctx /g.txt /mnt/data.txt /scratch /d.txt 2>&1 | wc -l; ls -d /mnt 2>/dev/null"]);
    expect(ls.stdout).toStartWith("5\n"); // five "No such file" lines: no mount point is left in the image

    // nothing changed: all cached; data.txt touched: still cached; changed: its RUN reruns
    const again = berth(root, ["build", "-t", "bound", ctx]);
    expect(again.stdout).not.toContain("Running in");
    statSync(join(ctx, "data.txt"));
    writeFileSync(join(ctx, "data.txt"), "two\n");
    const changed = berth(root, ["build", "-t", "bound", ctx]);
    expect(changed.code).toBe(0);
    const s = steps(changed.stdout);
    expect(s[3]!.join("\n")).toContain("RUN --mount=type=bind,source=data.txt");
    expect(s[3]).not.toContain(" ---> Using cache");
    expect(berth(root, ["run", "--rm", "--network", "none", "bound"]).stdout).toBe("two\nfrom-stage\n");

    // out of the context: refused
    const out = context("bind-out", { Dockerfile: "FROM busybox\nRUN --mount=type=bind,source=../secret,target=/s true\n" });
    const r = berth(root, ["build", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("outside the build context");
    // a symlink out of the context, named or inside the mounted directory: refused
    const link = context("bind-link", { Dockerfile: "FROM busybox\nRUN --mount=type=bind,source=link,target=/s cat /s/passwd\n" });
    symlinkSync("/etc", join(link, "link"));
    const l = berth(root, ["build", link]);
    expect(l.code).toBe(1);
    expect(l.stderr).toContain("outside the build context");
    const inner = context("bind-inner", { Dockerfile: "FROM busybox\nRUN --mount=type=bind,source=dir,target=/s cat /s/up/passwd\n", "dir/f": "x" });
    symlinkSync("../../../../../../etc", join(inner, "dir", "up"));
    const i = berth(root, ["build", inner]);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain("RUN --mount=type=bind failed: forbidden path outside the build context: dir/up is a symlink");
    const unknown = context("bind-type", { Dockerfile: "FROM busybox\nRUN --mount=type=ssh true\n" });
    expect(berth(root, ["build", unknown]).stderr).toContain('unsupported mount type "ssh"');
  });

  test("nothing is left mounted or in tmp/", () => {
    expect(mountsUnder(root).filter((m) => m.includes("/tmp/"))).toEqual([]);
    const tmp = join(root, "images", "tmp");
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  });
});
