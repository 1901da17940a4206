// --userns=auto, --uidmap/--gidmap: the container's root is an unprivileged subordinate id on the
// host, each container has its own range, and the image's files still look like its root's
// (idmapped layers: nothing in the image store is chowned).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";
import { HOST, lacks } from "../helpers/host.ts";

const SKIP = lacks(HOST.userNamespaces, "user namespaces") || lacks(HOST.berthSubids, "subordinate ids for the user berth in /etc/subuid and /etc/subgid (run scripts/install-system-deps.sh)");
const subStart = (file: string) => Number(/^berth:(\d+):/m.exec(readFileSync(file, "utf8"))?.[1] ?? -1);

let root: string;
let hostDir: string;
beforeAll(async () => {
  root = await engineRoot();
  hostDir = mkdtempSync(join(tmpdir(), "berth-userns-host-"));
  chmodSync(hostDir, 0o755);
  writeFileSync(join(hostDir, "public"), "host\n", { mode: 0o644 });
  writeFileSync(join(hostDir, "secret"), "secret\n", { mode: 0o600 });
});
afterAll(() => {
  cleanupRoot(root);
  rmSync(hostDir, { recursive: true, force: true });
});

const run = (...args: string[]) => berth(root, ["run", "--rm", "--network", "none", ...args]);
function uidMap(id: string): string {
  return berth(root, ["inspect", "-f", "{{.HostConfig.UidMap}}", id]).stdout.trim();
}

describe.skipIf(SKIP)("--userns=auto", () => {
  test("the container's root is an unprivileged high uid on the host; host root's files stay out of reach", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "--userns=auto", "-v", `${hostDir}:/host`, "busybox", "sleep", "300"]).stdout.trim();
    try {
      const pid = berth(root, ["inspect", "-f", "{{.State.Pid}}", id]).stdout.trim();
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const uids = /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
      const gids = /^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
      // Real, effective, saved and filesystem ids: all the range's first id, none of them root.
      expect(new Set(uids).size).toBe(1);
      expect(uids[0]).toBeGreaterThanOrEqual(subStart("/etc/subuid"));
      expect(gids[0]).toBeGreaterThanOrEqual(subStart("/etc/subgid"));
      // Inside it is root, with its own map.
      const inside = berth(root, ["exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map"]).stdout.trim().split("\n");
      expect(inside[0]).toBe("0");
      expect(inside[1]!.trim().split(/\s+/)).toEqual(["0", String(uids[0]), "65536"]);
      // The escape attempts of a root that is not the host's root: a root-owned host file is
      // neither writable nor, at 0600, readable.
      const w = berth(root, ["exec", id, "sh", "-c", "echo pwned >> /host/public"]);
      expect(w.code).not.toBe(0);
      expect(w.stderr).toContain("Permission denied");
      expect(readFileSync(join(hostDir, "public"), "utf8")).toBe("host\n");
      expect(berth(root, ["exec", id, "cat", "/host/secret"]).code).not.toBe(0);
      // Nor can it create device nodes, even as root inside.
      expect(berth(root, ["exec", id, "mknod", "/tmp/sda", "b", "8", "0"]).code).not.toBe(0);
    } finally {
      berth(root, ["rm", "-f", id]);
    }
  });

  test("the image's files are owned by the container's root without chowning the image; its writes stay its own across restarts", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "--userns=auto", "busybox", "sleep", "300"]).stdout.trim();
    try {
      expect(berth(root, ["exec", id, "stat", "-c", "%u:%g %n", "/bin/busybox", "/etc/passwd", "/"]).stdout)
        .toBe("0:0 /bin/busybox\n0:0 /etc/passwd\n0:0 /\n");
      expect(berth(root, ["exec", id, "sh", "-c", "echo mine > /etc/motd && touch /tmp/t && stat -c %u /etc/motd"]).stdout).toBe("0\n");
      // The store's copy of the image is untouched: still root's on disk.
      const layers = readFileSync(join(root, "containers", id, "config.json"), "utf8");
      expect(layers).toContain('"type":"user"');
      const snapshot = Bun.spawnSync(["find", join(root, "snapshots"), "-path", "*/diff/bin/busybox"]).stdout.toString().trim().split("\n")[0]!;
      expect(snapshot).not.toBe("");
      expect(statSync(snapshot).uid).toBe(0);
      // No idmapped bind of the layers stays mounted: the overlay holds its own clones.
      expect(mountsUnder(root).filter((m) => m.includes("idmapped"))).toEqual([]);
      expect(berth(root, ["restart", "-t", "0", id]).code).toBe(0);
      expect(berth(root, ["exec", id, "sh", "-c", "cat /etc/motd; stat -c %u:%g /etc/motd /bin/busybox"]).stdout).toBe("mine\n0:0\n0:0\n");
    } finally {
      berth(root, ["rm", "-f", id]);
    }
  });

  test("commit and export say the container's own ids, not the host's subordinate ones", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "--userns=auto", "busybox", "sh", "-c", "mkdir /made && touch /made/f && chown 33:33 /made/f && sleep 300"]).stdout.trim();
    try {
      expect(berth(root, ["exec", id, "stat", "-c", "%u", "/made/f"]).stdout).toBe("33\n");
      const tar = join(hostDir, "export.tar");
      expect(berth(root, ["export", "-o", tar, id]).code).toBe(0);
      const list = Bun.spawnSync(["tar", "-tvnf", tar, "--numeric-owner"]).stdout.toString();
      expect(list).toMatch(/ 0\/0 .* bin\/busybox/);
      expect(list).toMatch(/ 33\/33 .* made\/f/);
      expect(list).not.toMatch(/ 21474/);
      rmSync(tar);
      // cp in: the container root's file (docker's rule), in its own ids; -a keeps the source's ids.
      writeFileSync(join(hostDir, "in"), "in\n");
      expect(berth(root, ["cp", join(hostDir, "in"), `${id}:/made/in`]).code).toBe(0);
      expect(berth(root, ["exec", id, "stat", "-c", "%u:%g", "/made/in"]).stdout).toBe("0:0\n");
      // cp -a out: the ids the container sees.
      expect(berth(root, ["cp", "-a", `${id}:/made/f`, join(hostDir, "out")]).code).toBe(0);
      expect(statSync(join(hostDir, "out")).uid).toBe(33);
      expect(berth(root, ["commit", id, "committed:userns"]).code).toBe(0);
      expect(run("committed:userns", "stat", "-c", "%u:%g %n", "/made", "/made/f").stdout).toBe("0:0 /made\n33:33 /made/f\n");
    } finally {
      berth(root, ["rm", "-f", id]);
    }
  });

  test("each container gets its own range; rm gives it back", () => {
    const a = berth(root, ["create", "--userns=auto", "busybox", "true"]).stdout.trim();
    const b = berth(root, ["create", "--userns=auto:size=4096", "busybox", "true"]).stdout.trim();
    const c = berth(root, ["create", "--userns=auto", "busybox", "true"]).stdout.trim();
    try {
      const parse = (id: string) => {
        const [, host, size] = /\[0:(\d+):(\d+)\]/.exec(uidMap(id))!.map(Number);
        return { start: host!, end: host! + size! };
      };
      const ranges = [a, b, c].map(parse);
      expect(ranges[1]!.end - ranges[1]!.start).toBe(4096);
      for (let i = 0; i < ranges.length; i++) {
        for (let j = i + 1; j < ranges.length; j++) {
          expect(ranges[i]!.end <= ranges[j]!.start || ranges[j]!.end <= ranges[i]!.start).toBe(true);
        }
      }
      berth(root, ["rm", a]);
      const d = berth(root, ["create", "--userns=auto", "busybox", "true"]).stdout.trim();
      expect(parse(d)).toEqual(ranges[0]!); // a's range is free again
      berth(root, ["rm", d]);
    } finally {
      berth(root, ["rm", "-f", a, b, c]);
    }
  });

  test("run --rm with a user namespace and a network namespace of its own leaves nothing mounted", () => {
    const r = berth(root, ["run", "--rm", "--network", "none", "--userns=auto", "busybox", "sh", "-c", "id -u; ls /sys/class/net"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("0\nlo\n");
    expect(mountsUnder(root)).toEqual([]);
  });
});

describe("volumes: docker's copy-up keeps owners; a user-namespaced root owns a new volume", () => {
  test("an image directory's owners travel into a new volume, with and without a user namespace", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "busybox", "sh", "-c", "mkdir -p /srv/app && touch /srv/app/db && chown -R 33:33 /srv/app && sleep 300"]).stdout.trim();
    try {
      for (let i = 0; i < 50 && berth(root, ["exec", id, "stat", "-c", "%u", "/srv/app/db"]).stdout !== "33\n"; i++) Bun.sleepSync(100);
      expect(berth(root, ["commit", id, "owned:1"]).code).toBe(0);
    } finally {
      berth(root, ["rm", "-f", id]);
    }
    expect(run("-v", "ownvol1:/srv", "owned:1", "stat", "-c", "%u:%g %n", "/srv/app", "/srv/app/db").stdout).toBe("33:33 /srv/app\n33:33 /srv/app/db\n");
    if (!SKIP) {
      expect(run("--userns=auto", "-v", "ownvol2:/srv", "owned:1", "stat", "-c", "%u:%g %n", "/srv/app", "/srv/app/db").stdout).toBe("33:33 /srv/app\n33:33 /srv/app/db\n");
      const r = run("--userns=auto", "-v", "ownvol3:/data", "busybox", "sh", "-c", "echo x > /data/f && stat -c %u:%g /data /data/f");
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("0:0\n0:0\n");
    }
    berth(root, ["volume", "rm", "ownvol1", "ownvol2", "ownvol3"]);
  });
});

describe("a berth killed while the image layers are bound idmapped", () => {
  test("rm detaches the leftover bind and never deletes the image store through it", () => {
    const id = berth(root, ["create", "--network", "none", "busybox", "true"]).stdout.trim();
    const left = join(root, "containers", id, "idmapped-layers");
    Bun.spawnSync(["mkdir", "-p", left]);
    expect(Bun.spawnSync(["mount", "--bind", join(root, "snapshots"), left]).exitCode).toBe(0);
    expect(berth(root, ["rm", id]).code).toBe(0);
    expect(mountsUnder(root)).toEqual([]);
    // The image is whole: it still runs.
    expect(run("busybox", "echo", "intact").stdout).toBe("intact\n");
  });
});

describe.skipIf(SKIP)("--uidmap/--gidmap and errors", () => {
  test("explicit maps; one given means both", () => {
    const r = run("--uidmap", "0:300000:70000", "--gidmap", "0:400000:70000", "busybox", "cat", "/proc/self/uid_map", "/proc/self/gid_map");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/))).toEqual([["0", "300000", "70000"], ["0", "400000", "70000"]]);
    expect(run("--uidmap", "0:300000:70000", "busybox", "cat", "/proc/self/gid_map").stdout.trim().split(/\s+/)).toEqual(["0", "300000", "70000"]);
    expect(run("--userns=host", "busybox", "cat", "/proc/self/uid_map").stdout.trim().split(/\s+/)).toEqual(["0", "0", "4294967295"]);
  });
  test("refused before anything is made, with what to do", () => {
    const cases: [string[], string][] = [
      [["--userns=bogus"], "invalid --userns \"bogus\": use host, auto or auto:size=N"],
      [["--userns=auto:size=10"], "size must be from 1024"],
      [["--uidmap", "1:100000:10"], "--uidmap must map container id 0"],
      [["--uidmap", "0:100000"], "use CONTAINER_ID:HOST_ID:SIZE"],
      [["--userns=host", "--uidmap", "0:100000:65536"], "conflicting options: --uidmap/--gidmap and --userns=host"],
      [["--userns=auto", "--uidmap", "0:100000:65536"], "conflicting options: --userns=auto and --uidmap/--gidmap"],
      [["--userns=auto", "--privileged"], "privileged mode is incompatible with user namespaces"],
      [["--userns=auto", "--pid", "host"], "--pid host cannot be used with a user namespace"],
    ];
    for (const [flags, message] of cases) {
      const r = run(...flags, "busybox", "true");
      expect({ flags, code: r.code, has: r.stderr.includes(message) }).toEqual({ flags, code: 125, has: true });
    }
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
  });
});
