// berth build as a user runs it: a two-stage Dockerfile builds and runs, a second build is all
// cache, a changed file rebuilds from the step that copies it, .dockerignore is honoured, paths
// out of the context are refused, a failing RUN says where and tags nothing, history shows steps.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "../engine/helpers.ts";
import { makeContext, steps } from "./helpers.ts";

let root: string;
let work: string;

beforeAll(async () => {
  root = await engineRoot();
  work = mkdtempSync(join(tmpdir(), "berth-build-"));
});

afterAll(() => {
  cleanupRoot(root);
  rmSync(work, { recursive: true, force: true });
});

const context = (name: string, files: Record<string, string>): string => makeContext(work, name, files);

const TWO_STAGE = `# syntax=docker/dockerfile:1
FROM busybox AS builder
WORKDIR /src
COPY msg.txt ./
RUN tr a-z A-Z < msg.txt > /src/out.txt && echo made it
RUN <<EOF
echo from a heredoc
echo second > /src/second.txt
EOF

FROM busybox
COPY --from=builder /src/out.txt /src/second.txt /app/
ENV GREETING=hi
CMD ["cat", "/app/out.txt", "/app/second.txt"]
`;


describe("berth build", () => {
  test("a two-stage Dockerfile builds, runs, and builds again entirely from the cache", () => {
    const ctx = context("two-stage", { Dockerfile: TWO_STAGE, "msg.txt": "hello build\n" });
    const first = berth(root, ["build", "-t", "two:1", ctx]);
    expect(first.stderr).toContain("syntax directive");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Step 1/9 : FROM busybox AS builder");
    expect(first.stdout).toContain("made it");
    expect(first.stdout).toContain("from a heredoc");
    expect(first.stdout).toContain("Successfully tagged two:1");
    const run = berth(root, ["run", "--rm", "--network", "none", "two:1"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("HELLO BUILD\nsecond\n");

    const second = berth(root, ["build", "-t", "two:1", ctx]);
    expect(second.code).toBe(0);
    const all = steps(second.stdout).filter((s) => !s[0]!.includes(": FROM "));
    expect(all.length).toBe(7);
    for (const s of all) expect(s).toContain(" ---> Using cache");
    expect(second.stdout).not.toContain("Running in");
    // the same image as before
    const id1 = /Successfully built (\w+)/.exec(first.stdout)![1];
    const id2 = /Successfully built (\w+)/.exec(second.stdout)![1];
    expect(id2).toBe(id1);
    // --no-cache: every step made again
    const fresh = berth(root, ["build", "--no-cache", "-t", "two:1", ctx]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).not.toContain("Using cache");
    expect(fresh.stdout).toContain("made it");
  });

  test("a changed file rebuilds from the step that copies it; a touched one does not", () => {
    const ctx = context("partial", {
      Dockerfile: "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\nCMD [\"cat\", \"/copy\", \"/b.txt\"]\n",
      "a.txt": "A1\n", "b.txt": "B1\n",
    });
    expect(berth(root, ["build", "-t", "partial", ctx]).code).toBe(0);
    // a new mtime alone: everything from the cache
    utimesSync(join(ctx, "a.txt"), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const touched = berth(root, ["build", "-t", "partial", ctx]);
    expect(touched.code).toBe(0);
    for (const s of steps(touched.stdout).slice(1)) expect(s).toContain(" ---> Using cache");
    // new content in b.txt: steps 2-4 cached, 5 and 6 rebuilt
    writeFileSync(join(ctx, "b.txt"), "B2\n");
    const changed = berth(root, ["build", "-t", "partial", ctx]);
    expect(changed.code).toBe(0);
    const st = steps(changed.stdout);
    expect(st.map((s) => s.includes(" ---> Using cache"))).toEqual([false, true, true, true, false, false]);
    expect(berth(root, ["run", "--rm", "--network", "none", "partial"]).stdout).toBe("A1\nB2\n");
  });

  test(".dockerignore keeps files out of COPY", () => {
    const ctx = context("ignore", {
      Dockerfile: "FROM busybox\nCOPY . /ctx/\nCMD [\"ls\", \"-a\", \"/ctx\"]\n",
      ".dockerignore": "secret*\n*.log\n!keep.log\n.git\ndocs\n!docs/keep.md\n",
      "secret.txt": "s", "app.txt": "a", "debug.log": "d", "keep.log": "k", ".git/HEAD": "h", "docs/keep.md": "k", "docs/other.md": "o",
    });
    const b = berth(root, ["build", "-q", "-t", "ign", ctx]);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const names = berth(root, ["run", "--rm", "--network", "none", "ign"]).stdout.split("\n").filter((n) => n && n !== "." && n !== "..");
    expect(names.sort()).toEqual([".dockerignore", "Dockerfile", "app.txt", "docs", "keep.log"]);
    // an exception inside an excluded directory brings that file back, and only it
    expect(berth(root, ["run", "--rm", "--network", "none", "ign", "ls", "/ctx/docs"]).stdout).toBe("keep.md\n");
    // an ignored file named directly is not found
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nCOPY secret.txt /\n");
    const direct = berth(root, ["build", ctx]);
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toContain("excluded by .dockerignore");
  });

  test("COPY of ../outside and of a symlink out of the context is refused", () => {
    const outside = join(work, "outside.txt");
    writeFileSync(outside, "host secret\n");
    const up = context("escape-up", { Dockerfile: "FROM busybox\nCOPY ../outside.txt /x\n" });
    const r1 = berth(root, ["build", "-t", "esc1", up]);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toContain("forbidden path outside the build context");
    const link = context("escape-link", { Dockerfile: "FROM busybox\nCOPY link /x\n" });
    symlinkSync(outside, join(link, "link"));
    const r2 = berth(root, ["build", "-t", "esc2", link]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain("forbidden path outside the build context");
    // a link inside a copied directory that leads out of the context: refused too
    const rel = context("escape-rel", { Dockerfile: "FROM busybox\nCOPY dir/ /x/\n", "dir/ok": "ok" });
    symlinkSync("../../outside.txt", join(rel, "dir/link"));
    const r3 = berth(root, ["build", "-t", "esc3", rel]);
    expect(r3.code).not.toBe(0);
    expect(r3.stderr).toContain("forbidden path outside the build context: dir/link is a symlink to ../../outside.txt");
    // an absolute link is the image's business (resolved in the container, never on the host): copied as a link
    const abs = context("abs-link", { Dockerfile: "FROM busybox\nCOPY dir/ /x/\n", "dir/ok": "ok" });
    symlinkSync(outside, join(abs, "dir/link"));
    expect(berth(root, ["build", "-t", "abslink", abs]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "abslink", "readlink", "/x/link"]).stdout).toBe(`${outside}\n`);
    // ADD of a tar whose members climb out (../) or write through a symlink to the host: refused, nothing written
    const target = join(work, "target-dir");
    mkdirSync(target);
    const evil = context("evil-tar", { Dockerfile: "FROM busybox\nADD evil.tar /x/\n", "payload/file": "pwned\n" });
    symlinkSync(target, join(evil, "payload/link"));
    const tarFile = join(evil, "evil.tar");
    expect(Bun.spawnSync(["tar", "-cf", tarFile, "-C", join(evil, "payload"), "link"]).exitCode).toBe(0);
    expect(Bun.spawnSync(["tar", "-rf", tarFile, "-C", join(evil, "payload"), "--transform", "s,^file,link/file,", "file"]).exitCode).toBe(0);
    expect(Bun.spawnSync(["tar", "-rPf", tarFile, "-C", join(evil, "payload"), "--transform", "s,^file,../up,", "file"]).exitCode).toBe(0);
    const r4 = berth(root, ["build", "-t", "esc4", evil]);
    expect(r4.code).not.toBe(0);
    expect(r4.stderr).toContain("ADD evil.tar: the archive could not be extracted safely");
    expect(Bun.spawnSync(["ls", "-A", target]).stdout.toString()).toBe("");
    expect(existsSync(join(evil, "up"))).toBe(false);
    for (const t of ["esc1", "esc2", "esc3", "esc4"]) expect(berth(root, ["image", "inspect", t]).code).not.toBe(0);
  });

  test("a failing RUN reports its step, command and exit code, and tags nothing", () => {
    const ctx = context("fail", { Dockerfile: "FROM busybox\nRUN echo before\nRUN echo failing; exit 3\nRUN echo never\n" });
    const r = berth(root, ["build", "-t", "failed:1", ctx]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("failing");
    expect(r.stdout).not.toContain("never");
    expect(r.stderr).toContain("Step 3/4 : RUN echo failing; exit 3");
    expect(r.stderr).toContain("The command '/bin/sh -c echo failing; exit 3' returned a non-zero code: 3");
    expect(berth(root, ["image", "inspect", "failed:1"]).code).not.toBe(0);
    // no build container is left behind
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
    // a RUN whose container cannot start (an unknown USER) is reported with its step
    const user = context("bad-user", { Dockerfile: "FROM busybox\nUSER nosuchuser\nRUN true\n" });
    const u = berth(root, ["build", user]);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain("Step 3/3 : RUN true\nunable to find user nosuchuser");
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
    // FROM an image not in the store, and its registry (on loopback, nothing listening) does not answer
    const missing = berth(root, ["build", context("missing", { Dockerfile: "FROM 127.0.0.1:1/nosuch:1\n" })]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("Unable to find image '127.0.0.1:1/nosuch:1' locally");
    expect(missing.stderr).toContain("Step 1/1 : FROM 127.0.0.1:1/nosuch:1\npulling 127.0.0.1:1/nosuch:1:");
    // a bad name is refused before any step runs
    const bad = berth(root, ["build", "-t", "Bad:Name", ctx]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("repository names must be lowercase");
    expect(bad.stdout).not.toContain("Step 1/");
  });

  test("berth history shows the steps; a RUN that changes nothing adds no layer", () => {
    const ctx = context("history", { Dockerfile: "FROM busybox\nRUN true\nRUN echo x > /x\nEXPOSE 8080\nUSER www\nLABEL a=b\n" });
    const b = berth(root, ["build", "-t", "hist", "--label", "built.by=test", "--iidfile", join(work, "iid"), ctx]);
    expect(b.code).toBe(0);
    const id = readFileSync(join(work, "iid"), "utf8");
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const h = berth(root, ["history", "--no-trunc", "--format", "{{.CreatedBy}}\t{{.Size}}", "hist"]);
    expect(h.code).toBe(0);
    const lines = h.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^LABEL built.by=test\t0B/);
    expect(lines[1]).toMatch(/^LABEL a=b\t0B/);
    expect(lines[2]).toMatch(/^USER www\t0B/);
    expect(lines[3]).toMatch(/^EXPOSE 8080\/tcp\t0B/);
    expect(lines[4]).toMatch(/^RUN \/bin\/sh -c echo x > \/x\t[1-9]/);
    expect(lines[5]).toMatch(/^RUN \/bin\/sh -c true\t0B/);
    // every step's image is here: history shows their IDs, not <missing>
    const ids = berth(root, ["history", "--format", "{{.ID}}", "hist"]).stdout.trim().split("\n");
    expect(ids.length).toBe(7);
    expect(ids.filter((i) => i === "<missing>")).toEqual([]);
    expect(ids.at(-1)).toBe(berth(root, ["images", "-q", "busybox"]).stdout.trim());
    const doc = JSON.parse(berth(root, ["image", "inspect", "hist"]).stdout)[0];
    expect(doc.Config.User).toBe("www");
    expect(doc.Config.Labels).toEqual({ a: "b", "built.by": "test" });
    expect(doc.Config.ExposedPorts).toEqual({ "8080/tcp": {} });
    // busybox's one layer, and one for `echo x > /x` only
    expect(doc.RootFS.Layers.length).toBe(2);
  });

  test("build args, ARG before FROM, --target skips stages it does not need", () => {
    const ctx = context("args", {
      Dockerfile: `ARG BASE=busybox
FROM \${BASE} AS unused
RUN exit 9

FROM \${BASE} AS final
ARG WHO=world
ENV GREETING="hello \${WHO}"
RUN echo "$GREETING" > /greeting
CMD cat /greeting
`,
    });
    const b = berth(root, ["build", "--target", "final", "--build-arg", "WHO=berth", "-t", "args", ctx]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("Step 1/6 : ARG BASE=busybox");
    expect(b.stdout).not.toContain("exit 9");
    expect(berth(root, ["run", "--rm", "--network", "none", "args"]).stdout).toBe("hello berth\n");
  });

  test("a Dockerfile on standard input, and a context tar on standard input", () => {
    const b = berth(root, ["build", "-t", "stdin", "-"], { stdin: "FROM busybox\nCMD [\"echo\", \"from stdin\"]\n" });
    expect(b.code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "stdin"]).stdout).toBe("from stdin\n");
    // no Dockerfile: a Containerfile is used
    const cf = context("containerfile", { Containerfile: "FROM busybox\nCMD [\"echo\", \"from a Containerfile\"]\n" });
    expect(berth(root, ["build", "-t", "cf", cf]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "cf"]).stdout).toBe("from a Containerfile\n");
    const ctx = context("tarctx", { Dockerfile: "FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n", f: "in a tar\n" });
    const tar = Bun.spawnSync(["tar", "-c", "-C", ctx, "."]).stdout;
    const r = Bun.spawnSync([join(import.meta.dir, "../../bin/berth"), "--root", root, "build", "-t", "tarctx", "-"], { stdin: tar });
    expect(r.exitCode).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "tarctx"]).stdout).toBe("in a tar\n");
  });

  test("ADD of a URL is refused offline; ADD of a local tar extracts it", () => {
    const url = context("url", { Dockerfile: "FROM busybox\nADD http://127.0.0.1:9/x /x\n" });
    const r = berth(root, ["build", url]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("does not fetch URLs");
    const ctx = context("addtar", { Dockerfile: "FROM busybox\nADD files.tar.gz /opt/\nCOPY --chmod=600 --chown=www:www plain /plain\n", plain: "p" });
    mkdirSync(join(ctx, "payload/sub"), { recursive: true });
    writeFileSync(join(ctx, "payload/sub/inner.txt"), "inner\n");
    Bun.spawnSync(["tar", "-czf", join(ctx, "files.tar.gz"), "-C", join(ctx, "payload"), "."]);
    expect(berth(root, ["build", "-t", "addtar", ctx]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "addtar", "cat", "/opt/sub/inner.txt"]).stdout).toBe("inner\n");
    expect(berth(root, ["run", "--rm", "--network", "none", "addtar", "stat", "-c", "%a %u %g", "/plain"]).stdout).toBe("600 33 33\n");
  });

  test("COPY from a heredoc, SHELL, ENTRYPOINT, HEALTHCHECK, STOPSIGNAL, VOLUME, ONBUILD triggers in the next build", () => {
    const base = context("onbuild-base", {
      Dockerfile: `FROM busybox
MAINTAINER Berth Tests <tests@example.org>
WORKDIR app
COPY <<EOF greeting.txt
hello from a heredoc
EOF
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s --retries=2 CMD test -f /app/greeting.txt
STOPSIGNAL SIGINT
VOLUME /data
ONBUILD RUN echo triggered > /app/trigger
ENTRYPOINT ["cat"]
CMD ["/app/greeting.txt"]
`,
    });
    expect(berth(root, ["build", "-t", "obbase", base]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "obbase"]).stdout).toBe("hello from a heredoc\n");
    const inspected = JSON.parse(berth(root, ["image", "inspect", "obbase"]).stdout)[0];
    expect(inspected.Author).toBe("Berth Tests <tests@example.org>");
    const cfg = inspected.Config;
    expect(cfg.WorkingDir).toBe("/app");
    expect(cfg.Shell).toEqual(["/bin/sh", "-ec"]);
    expect(cfg.Healthcheck).toEqual({ Test: ["CMD-SHELL", "test -f /app/greeting.txt"], Interval: 5e9, Retries: 2 });
    expect(cfg.StopSignal).toBe("SIGINT");
    expect(cfg.Volumes).toEqual({ "/data": {} });
    expect(cfg.OnBuild).toEqual(["RUN echo triggered > /app/trigger"]);
    const child = context("onbuild-child", { Dockerfile: "FROM obbase\nCMD [\"/app/trigger\"]\n" });
    const b = berth(root, ["build", "-t", "obchild", child]);
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("# Executing 1 build trigger");
    expect(berth(root, ["run", "--rm", "--network", "none", "obchild"]).stdout).toBe("triggered\n");
    expect(JSON.parse(berth(root, ["image", "inspect", "obchild"]).stdout)[0].Config.OnBuild ?? null).toBeNull();
    const mount = context("mount", { Dockerfile: "FROM busybox\nRUN --mount=type=ssh true\n" });
    const m = berth(root, ["build", mount]);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toContain('RUN --mount=type=ssh: unsupported mount type "ssh" (berth build has secret, cache, bind and tmpfs)');
  });

  test("FROM scratch, COPY globs, COPY --from by stage number, -f with its own Dockerfile.dockerignore, a changed build arg", () => {
    const ctx = context("scratch", {
      "build/app.Dockerfile": `FROM busybox
ARG VERSION=1
RUN echo "v$VERSION" > /version

FROM scratch
COPY --from=0 /bin/busybox /bin/busybox
COPY --from=0 /version /
COPY *.txt /data/
COPY conf/?.ini /conf/
ENTRYPOINT ["/bin/busybox"]
`,
      "build/app.Dockerfile.dockerignore": "skip.txt\n",
      ".dockerignore": "*\n", // the Dockerfile's own ignore file wins
      "a.txt": "a", "b.txt": "b", "skip.txt": "s", "conf/x.ini": "x", "conf/long.ini": "l",
    });
    const b = berth(root, ["build", "-f", join(ctx, "build/app.Dockerfile"), "-t", "scratchy", ctx]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const ls = (dir: string) => berth(root, ["run", "--rm", "--network", "none", "scratchy", "ls", dir]).stdout.split("\n").filter(Boolean);
    expect(ls("/data")).toEqual(["a.txt", "b.txt"]);
    expect(ls("/conf")).toEqual(["x.ini"]);
    // (dev, etc, proc and sys are the running container's mount points)
    expect(ls("/").filter((n) => !["dev", "etc", "proc", "sys"].includes(n))).toEqual(["bin", "conf", "data", "version"]);
    expect(berth(root, ["run", "--rm", "--network", "none", "scratchy", "cat", "/version"]).stdout).toBe("v1\n");
    // a new value for a build arg the RUN sees: that RUN and what follows are made again
    const again = berth(root, ["build", "-f", join(ctx, "build/app.Dockerfile"), "--build-arg", "VERSION=2", "-t", "scratchy", ctx]);
    expect(again.code).toBe(0);
    expect(steps(again.stdout).map((s) => s.includes(" ---> Using cache"))).toEqual([false, false, false, false, true, false, false, false, false]);
    expect(berth(root, ["run", "--rm", "--network", "none", "scratchy", "cat", "/version"]).stdout).toBe("v2\n");
  });

  test("COPY and WORKDIR go through the image's own symlinks (usrmerge /lib, /var/run -> /run) and keep them links", () => {
    const ctx = context("links", {
      Dockerfile: `FROM busybox
RUN mkdir -p /usr/lib /run /var && ln -s usr/lib /lib && ln -s /run /var/run
COPY f /lib/f
WORKDIR /var/run/app
COPY g ./
CMD ["sh", "-c", "readlink /lib; readlink /var/run; cat /usr/lib/f /run/app/g; pwd"]
`,
      f: "in usr/lib\n", g: "in /run/app\n",
    });
    const b = berth(root, ["build", "-t", "links", ctx]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "links"]).stdout).toBe("usr/lib\n/run\nin usr/lib\nin /run/app\n/run/app\n");
  });

  test("images hides a build's intermediate images unless -a; image prune drops them and the cache with them", () => {
    const ctx = context("prune", { Dockerfile: "FROM busybox\nRUN echo p > /p\nENV X=1\nCMD [\"cat\", \"/p\"]\n" });
    expect(berth(root, ["build", "-t", "pruned", ctx]).code).toBe(0);
    const shown = berth(root, ["images", "--format", "{{.Repository}}"]).stdout;
    const all = berth(root, ["images", "-a", "--format", "{{.Repository}}"]).stdout;
    expect(all.split("\n").filter((l) => l === "<none>").length).toBeGreaterThan(shown.split("\n").filter((l) => l === "<none>").length);
    expect(berth(root, ["image", "prune", "-f"]).code).toBe(0);
    // the tagged image is whole; the next build makes its steps again (their images are gone)
    expect(berth(root, ["run", "--rm", "--network", "none", "pruned"]).stdout).toBe("p\n");
    const again = berth(root, ["build", "-t", "pruned", ctx]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Running in");
    expect(berth(root, ["run", "--rm", "--network", "none", "pruned"]).stdout).toBe("p\n");
  });

  test("an image prune during a build waits for it: the build's context and step images stay", async () => {
    const ctx = context("prune-during", { Dockerfile: "FROM busybox\nENV A=1\nRUN sleep 2\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n", f: "still here\n" });
    const tar = Bun.spawnSync(["tar", "-c", "-C", ctx, "."]).stdout;
    const out = join(work, "prune-during.out");
    const proc = Bun.spawn([join(import.meta.dir, "../../bin/berth"), "--root", root, "build", "-t", "during", "-"], { stdin: tar, stdout: Bun.file(out), stderr: "pipe" });
    // once the RUN step runs (its context, extracted in tmp/, is still needed by the COPY after it)
    for (let i = 0; i < 300 && !(existsSync(out) && readFileSync(out, "utf8").includes("Running in")); i++) await Bun.sleep(50);
    expect(readFileSync(out, "utf8")).toContain("Running in");
    expect(berth(root, ["image", "prune", "-f"]).code).toBe(0);
    expect(await proc.exited).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "during"]).stdout).toBe("still here\n");
  });

  test("an interrupted build kills its RUN step's container and leaves none", async () => {
    const ctx = context("interrupt", { Dockerfile: "FROM busybox\nRUN echo started; sleep 60\n" });
    const out = join(work, "interrupt.out");
    const proc = Bun.spawn([join(import.meta.dir, "../../bin/berth"), "--root", root, "build", "-t", "interrupted", ctx], { stdout: Bun.file(out), stderr: "pipe" });
    for (let i = 0; i < 300 && !(existsSync(out) && readFileSync(out, "utf8").includes("\nstarted\n")); i++) await Bun.sleep(50);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain("returned a non-zero code: 137");
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
    expect(berth(root, ["image", "inspect", "interrupted"]).code).not.toBe(0);
  });

  test("rmi of a built image removes the intermediate images only it needed, as docker does", () => {
    const common = "FROM busybox\nRUN echo shared > /shared\n";
    const a = context("rmi-a", { Dockerfile: `${common}RUN echo a > /a\nENV WHO=a\n` });
    const b = context("rmi-b", { Dockerfile: `${common}RUN echo b > /b\n` });
    expect(berth(root, ["build", "-t", "rmi-a", a]).code).toBe(0);
    expect(berth(root, ["build", "-t", "rmi-b", b]).code).toBe(0);
    const count = () => berth(root, ["images", "-aq"]).stdout.trim().split("\n").length;
    const before = count();
    const r = berth(root, ["rmi", "rmi-a"]);
    expect(r.code).toBe(0);
    // rmi-a (its ENV step) and its `echo a` step; the shared RUN step stays (rmi-b is built on it)
    expect(r.stdout.split("\n").filter((l) => l.startsWith("Deleted: ")).length).toBe(2);
    expect(count()).toBe(before - 2);
    expect(berth(root, ["run", "--rm", "--network", "none", "rmi-b", "cat", "/shared", "/b"]).stdout).toBe("shared\nb\n");
    // a rebuild of rmi-a reuses the shared step from the cache
    const again = berth(root, ["build", "-t", "rmi-a", a]);
    expect(steps(again.stdout).map((s) => s.includes(" ---> Using cache"))).toEqual([false, true, false, false]);
    // busybox, a tagged base, is never removed with its children
    expect(berth(root, ["rmi", "rmi-b"]).code).toBe(0);
    expect(berth(root, ["image", "inspect", "busybox"]).code).toBe(0);
  });

  test("a killed build's image view, still mounted in tmp/, is unmounted and removed by the next writer", () => {
    // what a build killed during a COPY leaves: its read-only overlay view in a temp entry of a dead process (no pid is that high)
    const entry = join(root, "tmp", "build-view-99999999.1-aaaaaaaaaaaa");
    const lowA = join(work, "lowA"), lowB = join(work, "lowB");
    for (const d of [entry, lowA, lowB]) mkdirSync(d, { recursive: true });
    writeFileSync(join(lowA, "a"), "a");
    expect(Bun.spawnSync(["mount", "-t", "overlay", "overlay", "-o", `ro,lowerdir=${lowA}:${lowB}`, entry]).exitCode).toBe(0);
    const ctx = context("after-kill", { Dockerfile: "FROM busybox\nENV AFTER=kill\n" });
    const b = berth(root, ["build", "-q", ctx]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(mountsUnder(root)).toEqual([]);
    expect(existsSync(entry)).toBe(false);
  });

  test("nothing is left mounted or in tmp/", () => {
    expect(mountsUnder(root)).toEqual([]);
    const tmp = join(root, "tmp");
    const left = existsSync(tmp) ? Bun.spawnSync(["ls", tmp]).stdout.toString().split("\n").filter((n) => n.startsWith("build-")) : [];
    expect(left).toEqual([]);
  });
});
