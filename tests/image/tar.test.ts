// The tar reader/writer against GNU tar's formats, and image reference parsing.
import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { familiarName, parseReference } from "../../src/image/reference.ts";
import { applyChanges } from "../../src/image/changes.ts";
import { LayerIngest } from "../../src/storage/ingest.ts";
import { packDirectory } from "../../src/storage/pack.ts";
import { type TarEntry, TarReader } from "../../src/storage/tar.ts";
import { makeTar, tempDir } from "./helpers.ts";

setDefaultTimeout(60_000); // heavy I/O; the machine may be shared

let work: string;
beforeEach(() => {
  work = tempDir("tar");
});
afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function entries(tar: Uint8Array, chunk = 7): Array<TarEntry & { body: string }> {
  const out: Array<TarEntry & { body: string }> = [];
  let cur: (TarEntry & { body: string }) | null = null;
  const r = new TarReader({
    entry: (e) => {
      cur = { ...e, body: "" };
      out.push(cur);
    },
    data: (c) => {
      cur!.body += new TextDecoder().decode(c);
    },
    endEntry: () => {},
  });
  // odd chunk sizes exercise headers and data split across pushes
  for (let i = 0; i < tar.length; i += chunk) r.push(tar.subarray(i, i + chunk));
  r.finish();
  return out;
}

async function unpack(tar: Uint8Array, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const ing = new LayerIngest(dir, null);
  for (let i = 0; i < tar.length; i += 65536) {
    const w = ing.write(tar.subarray(i, i + 65536));
    if (w) await w;
  }
  const r = await ing.end();
  if (r.unpackError) throw r.unpackError;
}

describe("tar", () => {
  test("our writer: long names (ustar prefix and PAX), xattrs, big ids, round trip through our reader", () => {
    const long = "d/" + "x".repeat(150) + "/file";
    const veryLong = "e/" + "y".repeat(300);
    const tar = makeTar([
      { name: long, data: "a" },
      { name: veryLong, data: "bb", uid: 3_000_000, gid: 3_000_001, xattrs: { "user.k": "v" } },
      { name: "l", type: "symlink", linkname: "t/".repeat(80) },
    ]);
    const es = entries(tar);
    expect(es.map((e) => e.name)).toEqual([long, veryLong, "l"]);
    expect(es[1]!.uid).toBe(3_000_000);
    expect(es[1]!.gid).toBe(3_000_001);
    expect(new TextDecoder().decode(es[1]!.xattrs!.get("user.k"))).toBe("v");
    expect(es[1]!.body).toBe("bb");
    expect(es[2]!.linkname).toBe("t/".repeat(80));
  });

  test("GNU tar's archives (gnu and posix formats) unpack to the same tree as tar -x", async () => {
    const src = path.join(work, "src");
    fs.mkdirSync(path.join(src, "a/" + "n".repeat(120)), { recursive: true });
    fs.writeFileSync(path.join(src, "a/" + "n".repeat(120) + "/deep-file-with-long-name-" + "z".repeat(60)), "deep");
    fs.writeFileSync(path.join(src, "suid"), "s");
    fs.chownSync(path.join(src, "suid"), 1234, 5678); // chown first: it clears setuid
    fs.chmodSync(path.join(src, "suid"), 0o4755);
    fs.writeFileSync(path.join(src, "hard1"), "h");
    fs.linkSync(path.join(src, "hard1"), path.join(src, "hard2"));
    fs.symlinkSync("../etc/x", path.join(src, "a/rel"));
    fs.utimesSync(path.join(src, "hard1"), 1600000000, 1600000000);
    const { lsetxattr } = await import("../../src/sys/libc.ts");
    lsetxattr(path.join(src, "suid"), "user.note", new TextEncoder().encode("hello"));
    for (const fmt of ["gnu", "posix"]) {
      const file = path.join(work, `${fmt}.tar`);
      const r = Bun.spawnSync(["tar", `--format=${fmt}`, "--xattrs", "--xattrs-include=user.*", "-cf", file, "-C", src, "."]);
      expect(r.exitCode).toBe(0);
      const dst = path.join(work, `out-${fmt}`);
      await unpack(fs.readFileSync(file), dst);
      const st = fs.statSync(path.join(dst, "suid"));
      expect(st.mode & 0o7777).toBe(0o4755);
      expect([st.uid, st.gid]).toEqual([1234, 5678]);
      expect(fs.readFileSync(path.join(dst, "a/" + "n".repeat(120) + "/deep-file-with-long-name-" + "z".repeat(60)), "utf8")).toBe("deep");
      expect(fs.statSync(path.join(dst, "hard1")).ino).toBe(fs.statSync(path.join(dst, "hard2")).ino);
      expect(fs.readlinkSync(path.join(dst, "a/rel"))).toBe("../etc/x");
      expect(Math.floor(fs.statSync(path.join(dst, "hard1")).mtimeMs / 1000)).toBe(1600000000);
      if (fmt === "posix") {
        const { readXattrs } = await import("../../src/storage/ffi.ts");
        expect(new TextDecoder().decode(readXattrs(path.join(dst, "suid"))!.get("user.note"))).toBe("hello");
      }
    }
  });

  test("our packer's output is read by GNU tar", async () => {
    const src = path.join(work, "src");
    fs.mkdirSync(path.join(src, "sub"), { recursive: true });
    fs.writeFileSync(path.join(src, "sub/" + "f".repeat(200)), "long");
    fs.writeFileSync(path.join(src, "x"), "x");
    fs.linkSync(path.join(src, "x"), path.join(src, "y"));
    const chunks: Uint8Array[] = [];
    for await (const c of packDirectory(src)) chunks.push(c);
    const file = path.join(work, "ours.tar");
    fs.writeFileSync(file, Buffer.concat(chunks));
    const r = Bun.spawnSync(["tar", "-tvf", file], { stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain("sub/" + "f".repeat(200));
    expect(out).toContain("y link to x");
  });

  test("a bad header checksum is refused", () => {
    const tar = makeTar([{ name: "a", data: "1" }]);
    tar[0] = 0x62; // rename without fixing the checksum
    expect(() => entries(tar)).toThrow("checksum");
  });
});

describe("references", () => {
  test("docker's normalisation", () => {
    const cases: Array<[string, string]> = [
      ["busybox", "docker.io/library/busybox:latest"],
      ["busybox:1.36", "docker.io/library/busybox:1.36"],
      ["user/app", "docker.io/user/app:latest"],
      ["localhost/app:1.0", "localhost/app:1.0"],
      ["localhost:5000/a/b:c", "localhost:5000/a/b:c"],
      ["quay.io/x/y", "quay.io/x/y:latest"],
    ];
    for (const [i, want] of cases) {
      const r = parseReference(i);
      expect(`${r.domain}/${r.path}:${r.tag}`).toBe(want);
    }
    const d = `sha256:${"a".repeat(64)}`;
    const r = parseReference(`busybox@${d}`);
    expect(r.digest).toBe(d as `sha256:${string}`);
    expect(r.tag).toBeNull();
    expect(familiarName("docker.io/library/busybox:latest")).toBe("busybox:latest");
    expect(familiarName("docker.io/user/app:1")).toBe("user/app:1");
    expect(() => parseReference("Busybox")).toThrow("lowercase");
    expect(() => parseReference("a@sha256:12")).toThrow("64 hex");
    expect(() => parseReference("a:b c")).toThrow("tag");
  });

  test("--change instructions", () => {
    const c = applyChanges({ Env: ["A=0"], Cmd: ["old"] }, ["ENV A=1 B=\"two words\"", "ENTRYPOINT [\"/e\"]", "EXPOSE 53/udp 80", "ENV C 3 4", "CMD echo hi"]);
    expect(c.Env).toEqual(["A=1", "B=two words", "C=3 4"]);
    expect(c.Entrypoint).toEqual(["/e"]);
    expect(c.Cmd).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(c.ExposedPorts).toEqual({ "53/udp": {}, "80/tcp": {} });
    expect(() => applyChanges({}, ["RUN rm -rf /"])).toThrow("not supported");
  });
});

describe("packing a directory", () => {
  test("mount points inside are archived as empty directories", async () => {
    const { mount, umount } = await import("../../src/sys/libc.ts");
    const src = path.join(work, "tree");
    fs.mkdirSync(path.join(src, "proc"), { recursive: true });
    fs.writeFileSync(path.join(src, "file"), "f");
    mount("tmpfs", path.join(src, "proc"), "tmpfs", 0, "size=1m");
    try {
      fs.writeFileSync(path.join(src, "proc", "inside-a-mount"), "x");
      const names: string[] = [];
      const r = new TarReader({ entry: (e) => names.push(e.name), data: () => {}, endEntry: () => {} });
      for await (const c of packDirectory(src)) r.push(c);
      expect(names).toEqual(["file", "proc/"]);
    } finally {
      umount(path.join(src, "proc"));
    }
  });
});
