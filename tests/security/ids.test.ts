// User and group ids that do not fit (issue 18): a uid of 4294967295 is (uid_t)-1, which
// setresuid reads as "leave unchanged", so a container asked to run as it stayed root; larger
// numbers wrapped (4294967296 -> 0, 99999999999 -> 1215752191). The engine takes docker's range
// (0 to 2^31-1), the runtime the kernel's (0 to 2^32-2); both refuse the rest before anything runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, busyboxRootfs, cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { makeBusyboxBundle } from "../helpers/bundle.ts";
import { runtime, runBundle, uniqueId, useStateRoot } from "../helpers/runtime.ts";
import { openImageStore, closeImageStore } from "../../src/image/store.ts";
import { rootfsImporter } from "../../src/image/importers.ts";
import { normalizeTaggedName } from "../../src/image/reference.ts";

const ENGINE_RANGE = /uids and gids must be in range 0-2147483647/;

describe("engine: -u outside 0..2^31-1 is refused, never wrapped", () => {
  let root: string;
  beforeAll(async () => {
    root = await engineRoot();
    // An image whose passwd and group name ids the kernel cannot take (a hostile image).
    const src = busyboxRootfs(mkdtempSync(join(tmpdir(), "berth-ids-src-")));
    writeFileSync(join(src, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwrap:x:4294967295:0:wrap:/:/bin/sh\nbiggid:x:1000:4294967296:b:/:/bin/sh\nmember:x:1001:1001:m:/:/bin/sh\n");
    writeFileSync(join(src, "etc/group"), "root:x:0:\nhuge:x:99999999999:member\n");
    const store = openImageStore(root);
    try {
      await rootfsImporter(src).run(store, { names: [normalizeTaggedName("hostile-ids")], changes: [] });
    } finally {
      closeImageStore(root);
      rmSync(src, { recursive: true, force: true });
    }
  }, 120_000);
  afterAll(() => cleanupRoot(root));

  for (const user of ["4294967295", "4294967296", "99999999999", "2147483648", "nobody:4294967295", "0:4294967296", "65534:99999999999"]) {
    test(`run -u ${user}: exit 125, nothing runs`, () => {
      const r = berth(root, ["run", "--rm", "--network", "none", "-u", user, "busybox", "id"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(ENGINE_RANGE);
      expect(r.stdout).toBe("");
    });
  }

  test("create -u 4294967296 is refused at create: no container is left", () => {
    const r = berth(root, ["create", "--name", "wraps", "-u", "4294967296", "busybox", "id"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(ENGINE_RANGE);
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
  });

  test("exec -u 4294967295 is refused; the largest id docker takes still works", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "busybox", "sleep", "60"]).stdout.trim();
    try {
      const r = berth(root, ["exec", "-u", "4294967295", id, "id", "-u"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(ENGINE_RANGE);
      expect(berth(root, ["exec", "-u", "2147483647:2147483647", id, "id"]).stdout).toBe("uid=2147483647 gid=2147483647\n");
    } finally {
      berth(root, ["rm", "-f", id]);
    }
  });

  test("ids from the image's passwd and group files are held to the same range", () => {
    for (const user of ["wrap", "biggid", "member"]) {
      const r = berth(root, ["run", "--rm", "--network", "none", "-u", user, "hostile-ids", "id"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/\/etc\/(passwd|group) entry for .*uids and gids must be in range 0-2147483647/);
    }
    expect(berth(root, ["run", "--rm", "--network", "none", "hostile-ids", "id", "-u"]).stdout).toBe("0\n");
  });

  test("malformed -u is a clear error", () => {
    const r = berth(root, ["run", "--rm", "--network", "none", "-u", "1:2:3", "busybox", "id"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('invalid user "1:2:3"');
  });
});

describe("runtime: process.user, additionalGids, id maps and devices within the kernel's 32-bit ids", () => {
  const root = useStateRoot();
  const KERNEL_RANGE = /must be an integer from 0 to 4294967294/;

  function refused(edit: (b: ReturnType<typeof makeBusyboxBundle>) => void): string {
    const b = makeBusyboxBundle({ args: ["id"] });
    try {
      edit(b);
      b.save();
      const r = runBundle(root, b.dir);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      return r.stderr;
    } finally {
      b.cleanup();
    }
  }

  test("uid 4294967295 ((uid_t)-1) and 4294967296 are refused, naming the field", () => {
    expect(refused((b) => { b.config.process!.user = { uid: 4294967295, gid: 0 }; })).toMatch(/process\.user\.uid must be an integer from 0 to 4294967294/);
    expect(refused((b) => { b.config.process!.user = { uid: 0, gid: 4294967296 }; })).toMatch(/process\.user\.gid/);
    expect(refused((b) => { b.config.process!.user = { uid: 0, gid: 0, additionalGids: [5, 4294967295] }; })).toMatch(/additionalGids\[1\] must be an integer from 0 to 4294967294/);
    expect(refused((b) => { b.config.process!.user = { uid: -1, gid: 0 }; })).toMatch(KERNEL_RANGE);
  });

  test("id maps whose ranges wrap past 2^32 and devices with out-of-range owners are refused", () => {
    const userns = (b: ReturnType<typeof makeBusyboxBundle>) => b.config.linux!.namespaces!.push({ type: "user" });
    expect(refused((b) => {
      userns(b);
      b.config.linux!.uidMappings = [{ containerID: 0, hostID: 4294967000, size: 65536 }];
      b.config.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    })).toMatch(/uidMappings\[0\]: hostID 4294967000 \+ size 65536 runs past/);
    expect(refused((b) => {
      userns(b);
      b.config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 0 }];
      b.config.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    })).toMatch(/uidMappings\[0\]\.size must be a positive integer/);
    expect(refused((b) => {
      b.config.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, uid: 4294967295 }];
    })).toMatch(/linux\.devices\[0\]\.uid must be an integer from 0 to 4294967294/);
  });

  test("exec -u 4294967295 and -g 4294967296 are refused; a valid exec user works", () => {
    const b = makeBusyboxBundle({ args: ["sleep", "60"] });
    const id = uniqueId("ids");
    try {
      b.save();
      expect(runtime(root, ["run", "-d", "-b", b.dir, id]).code).toBe(0);
      const bad = runtime(root, ["exec", "-u", "4294967295:0", id, "id"]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/exec: process\.user\.uid must be an integer from 0 to 4294967294/);
      const badGroup = runtime(root, ["exec", "-u", "0:0", "-g", "4294967296", id, "id"]);
      expect(badGroup.code).not.toBe(0);
      expect(badGroup.stderr).toMatch(/additionalGids\[0\]/);
      expect(runtime(root, ["exec", "-u", "4294967294:5", id, "id"]).stdout).toBe("uid=4294967294 gid=5\n");
    } finally {
      runtime(root, ["delete", "--force", id]);
      b.cleanup();
    }
  });
});
