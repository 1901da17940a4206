// Every create/run option is checked when the container is created, not when it starts: a bad
// value is exit 125 with a message in the user's terms, and nothing is made — no container row,
// no name, no container directory, no volume, no network lease. A container that `create`
// accepted must then be able to start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openImageStore, closeImageStore } from "../../src/image/store.ts";
import { rootfsImporter } from "../../src/image/importers.ts";
import { normalizeTaggedName } from "../../src/image/reference.ts";
import { berth, busyboxRootfs, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";
import { lacks } from "../helpers/host.ts";

let root = "";
let files = "";

/** Images whose config a start would refuse (each one thing wrong). */
const BAD_IMAGES: [string, string[], RegExp][] = [
  ["img-env-nul", ["ENV A=b\0c", 'CMD ["true"]'], /the environment variable contains a NUL byte: "A=b\\u0000c"/],
  ["img-cmd-nul", ['CMD ["echo", "a\\u0000b"]'], /the command \(entrypoint and arguments\) contains a NUL byte/],
  ["img-volume-proc", ["VOLUME /proc/sys", 'CMD ["true"]'], /"\/proc\/sys" cannot be mounted because it is inside \/proc/],
  ["img-volume-root", ["VOLUME /", 'CMD ["true"]'], /image img-volume-root has an invalid VOLUME "\/"/],
  ["img-stopsignal", ["STOPSIGNAL RTMIN+40", 'CMD ["true"]'], /invalid signal: RTMIN\+40/],
  ["img-user", ["USER a:b:c", 'CMD ["true"]'], /invalid user "a:b:c"/],
];

beforeAll(async () => {
  root = await engineRoot();
  files = join(root, "inputs");
  mkdirSync(files);
  writeFileSync(join(files, "env-nul"), "OK=1\nA=b\0c\n");
  writeFileSync(join(files, "env-blank"), "# comment\nA B=1\n");
  writeFileSync(join(files, "env-utf8"), Buffer.from([0x41, 0x3d, 0xff, 0x0a]));
  writeFileSync(join(files, "labels-nul"), "a=b\0c\n");
  writeFileSync(join(files, "seccomp-bad.json"), JSON.stringify({ defaultAction: "SCMP_ACT_NOPE" }));
  writeFileSync(join(files, "seccomp-syntax.json"), "{ not json");
  const src = busyboxRootfs(join(root, "bad-src"));
  const store = openImageStore(root);
  try {
    for (const [name, changes] of BAD_IMAGES) await rootfsImporter(src).run(store, { names: [normalizeTaggedName(name)], changes });
  } finally {
    closeImageStore(root);
  }
  rmSync(src, { recursive: true, force: true });
});
afterAll(() => cleanupRoot(root));

/** Nothing of a container exists: no row or name, no directory, no lock, no volume, no lease. */
function nothingMade(): void {
  expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
  expect(readdirSync(join(root, "containers"))).toEqual([]);
  expect(readdirSync(join(root, "locks")).filter((f) => /^[0-9a-f]{64}\.lock$/.test(f))).toEqual([]);
  expect(berth(root, ["volume", "ls", "-q"]).stdout).toBe("");
  expect(mountsUnder(root)).toEqual([]);
  // The network store is only made by a container that joins a bridge, and create joins none.
  expect(existsSync(join(root, "network"))).toBe(false);
}

/** CapBnd of this process: whether the host can give a capability at all. */
function hostHasCapability(bit: number): boolean {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0";
  return ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
}

const CAP_SYS_RESOURCE = 24;

// [what, flags before the image, expected message]. `none` is added unless the case sets a network.
const BAD_FLAGS: [string, string[], RegExp][] = [
  ["hostname with a blank", ["--hostname", "bad host!"], /invalid hostname format: bad host!/],
  ["hostname over 63 bytes", ["--hostname", "a".repeat(64)], /invalid hostname format: a{64}/],
  ["domainname with a blank", ["--domainname", "bad dom"], /invalid domainname format: bad dom/],
  ["unknown network", ["--network", "bogus"], /network bogus not found; list networks with `berth network ls`/],
  ["unknown second network", ["--network", "bridge,bogus"], /network bogus not found/],
  ["network list without a name", ["--network", ","], /--network "," names no network/],
  ["container network without a container", ["--network", "container:"], /--network container: needs a container name or id/],
  ["container network of a missing container", ["--network", "container:nosuch"], /no such container: nosuch/],
  ["hostname with a container network", ["--network", "container:x", "-h", "web"], /conflicting options: hostname and the network mode/],
  ["dns with a container network", ["--network", "container:x", "--dns", "9.9.9.9"], /conflicting options: dns and the network mode/],
  ["add-host with a container network", ["--network", "container:x", "--add-host", "a:1.2.3.4"], /conflicting options: custom host-to-IP mapping and the network mode/],
  ["-P with a container network", ["--network", "container:x", "-P"], /conflicting options: port publishing and the container type network mode/],
  ["env file with a NUL byte", ["--env-file", "FILES/env-nul"], /env file .*env-nul contains a NUL byte at line 2/],
  ["env file key with a blank", ["--env-file", "FILES/env-blank"], /poorly formatted environment file .*env-blank at line 2: variable 'A B' contains whitespaces/],
  ["env file not UTF-8", ["--env-file", "FILES/env-utf8"], /env file .*env-utf8 contains invalid utf8 bytes at line 1/],
  ["empty -e", ["-e", ""], /invalid environment variable: $/m],
  ["label file with a NUL byte", ["--label-file", "FILES/labels-nul"], /label file .*labels-nul contains a NUL byte at line 1/],
  ["missing label file", ["--label-file", "FILES/nosuch"], /open .*nosuch: no such file or directory/],
  ["label without a name", ["-l", "=x"], /invalid label '=x': empty name/],
  ["bind over /proc", ["-v", "FILES:/proc"], /invalid mount config: "\/proc" cannot be mounted because it is not of type proc/],
  ["tmpfs uid beyond 32 bits", ["--tmpfs", "/run:uid=4294967296"], /invalid --tmpfs option "uid=4294967296" in "\/run:uid=4294967296": ids go up to 4294967294/],
  ["tmpfs inside /proc", ["--tmpfs", "/proc/sys"], /"\/proc\/sys" cannot be mounted because it is inside \/proc/],
  ["host-wide sysctl", ["--sysctl", "kernel.panic=1"], /sysctl 'kernel.panic=1' is not allowed/],
  ["sysctl name climbing out", ["--sysctl", "net/../../x=1"], /'net\/..\/..\/x' is not a sysctl name/],
  ["network sysctl with the host network", ["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"], /sysctl 'net.ipv4.ip_forward=1' is not allowed with --network host/],
  ["restart count that is not a number", ["--restart", "on-failure:x"], /invalid restart policy "on-failure:x"/],
  ["restart with two counts", ["--restart", "on-failure:3:4"], /invalid restart policy "on-failure:3:4"/],
  ["restart without a policy", ["--restart", ":3"], /no policy provided before colon/],
  ["real-time signal past SIGRTMAX", ["--stop-signal", "RTMIN+40"], /invalid signal: RTMIN\+40/],
  ["signal 0", ["--stop-signal", "0"], /invalid signal: 0/],
  ["user with two colons", ["-u", "a:b:c"], /invalid user "a:b:c"/],
  ["unknown seccomp action", ["--security-opt", "seccomp=FILES/seccomp-bad.json"], /invalid seccomp profile .*seccomp-bad.json: linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"/],
  ["seccomp profile not JSON", ["--security-opt", "seccomp=FILES/seccomp-syntax.json"], /decoding seccomp profile \(.*seccomp-syntax.json\) failed/],
  ["no-new-privileges that is not a boolean", ["--security-opt", "no-new-privileges=maybe"], /no-new-privileges takes true or false/],
  ["pids limit above the kernel's", ["--pids-limit", "99999999"], /--pids-limit: 99999999 is above the maximum 4194304/],
  ["pids limit past 2^53", ["--pids-limit", "99999999999999999999"], /invalid argument "99999999999999999999" for "--pids-limit" flag: .*value out of range/],
  ["cpu shares above the maximum", ["-c", "999999"], /-c, --cpu-shares: 999999 is above the maximum 262144/],
  ["memory past 2^53 bytes", ["-m", "99999999999999999999999"], /invalid size: '99999999999999999999999' is out of range/],
  ["log max-file not a number", ["--log-opt", "max-file=x"], /invalid value for log opt max-file: "x"/],
  ["publish address that is no IPv4 address", ["-p", "1.2.3.999:80:80", "--network", "bridge"], /invalid publish spec "1.2.3.999:80:80": "1.2.3.999" is not an IPv4 address/],
  ["add-host name with a blank", ["--add-host", "a b:1.2.3.4"], /invalid --add-host "a b:1.2.3.4": the name may not contain blanks/],
  ["host-gateway without a bridge", ["--add-host", "gw:host-gateway"], /host-gateway needs a bridge network/],
];

function withInputs(args: string[]): string[] {
  return args.map((a) => a.replace(/FILES/g, files));
}

describe("create refuses what start would refuse", () => {
  for (const verb of ["create", "run"] as const) {
    test.each(BAD_FLAGS)(`${verb}: %s`, (_what, flags, message) => {
      const args = withInputs(flags);
      const network = args.some((a) => a === "--network") ? [] : ["--network", "none"];
      const r = berth(root, [verb, ...(verb === "run" ? ["--rm"] : []), ...network, ...args, "busybox", "true"]);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(125);
      nothingMade();
    }, 60_000);

    test.each(BAD_IMAGES)(`${verb}: image %s`, (image, _changes, message) => {
      const r = berth(root, [verb, "--network", "none", image]);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(125);
      nothingMade();
    }, 60_000);
  }

  // Only a host whose bounding set lacks CAP_SYS_RESOURCE (this kind of machine) has one to refuse.
  test.skipIf(lacks(!hostHasCapability(CAP_SYS_RESOURCE), "capability missing from its bounding set (CAP_SYS_RESOURCE is there): --cap-add SYS_RESOURCE is valid here"))("a capability this host cannot give (CAP_SYS_RESOURCE outside the bounding set)", () => {
    const r = berth(root, ["create", "--network", "none", "--cap-add", "SYS_RESOURCE", "busybox", "true"]);
    expect(r.stderr).toMatch(/--cap-add CAP_SYS_RESOURCE: this host cannot give this capability/);
    expect(r.code).toBe(125);
    nothingMade();
  }, 60_000);
});

describe("what create accepts, start runs", () => {
  test("edge values docker accepts create a container that starts", () => {
    const r = berth(root, [
      "run", "--rm", "--network", "none", "-h", "a-b.c", "--domainname", "example.org", "--tmpfs", "/run:size=1M,mode=1777",
      "--sysctl", "net.ipv4.ip_forward=1", "--stop-signal", "SIGRTMAX-2", "--restart", "no", "-m", "0", "--log-opt", "max-file=3",
      "-l", "a=", "-e", "A=1", "busybox", "sh", "-c", "hostname; cat /proc/sys/net/ipv4/ip_forward",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("a-b.c\n1\n");
    expect(r.code).toBe(0);
    nothingMade();
  }, 60_000);
});
