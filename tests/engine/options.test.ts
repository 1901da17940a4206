// Flag values parsed as docker parses them (pure functions: no containers involved).
import { describe, expect, test } from "bun:test";
import { parseCpus, parseInteger, parseLabels, parseMemory, parsePublish, parseRestart, parseSignal, parseSize, parseTmpfs, parseVolumeSpec, mergeEnv, readEnvFile } from "../../src/engine/options.ts";
import { buildConfig } from "../../src/engine/config.ts";
import { resourcesOf } from "../../src/engine/limits.ts";
import { randomName, validName } from "../../src/engine/names.ts";
import { renderTemplate, formatRows } from "../../src/cli/berth/format.ts";
import { parseFlags } from "../../src/cli/berth/args.ts";
import { CREATE_FLAGS } from "../../src/cli/berth/container.ts";

describe("sizes and numbers", () => {
  test("memory sizes", () => {
    expect(parseSize("64m", "-m")).toBe(64 * 1024 * 1024);
    expect(parseSize("1g", "-m")).toBe(1024 ** 3);
    expect(parseSize("512k", "-m")).toBe(512 * 1024);
    expect(parseSize("1.5G", "-m")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("100mb", "-m")).toBe(100 * 1024 * 1024);
    expect(() => parseSize("5x", "-m, --memory")).toThrow(`invalid argument "5x" for "-m, --memory" flag: invalid size: '5x'`);
    expect(() => parseMemory("1m")).toThrow("Minimum memory limit allowed is 6MB");
  });
  test("cpus", () => {
    expect(parseCpus("0.5")).toBe(0.5);
    expect(() => parseCpus("-1")).toThrow(/Range of CPUs is from 0.01/);
    expect(() => parseCpus("abc")).toThrow(/invalid argument "abc" for "--cpus"/);
  });
  test("restart policies", () => {
    expect(parseRestart("on-failure:3")).toEqual({ name: "on-failure", maximumRetryCount: 3 });
    expect(parseRestart("always")).toEqual({ name: "always", maximumRetryCount: 0 });
    expect(() => parseRestart("always:2")).toThrow(/maximum retry count cannot be used/);
    expect(() => parseRestart("maybe")).toThrow(/invalid restart policy/);
  });
  test("signals", () => {
    expect(parseSignal("TERM")).toBe(15);
    expect(parseSignal("SIGKILL")).toBe(9);
    expect(parseSignal("10")).toBe(10);
    expect(() => parseSignal("SIGNOPE")).toThrow("invalid signal: SIGNOPE");
    // Real-time signals stay within SIGRTMIN (34) .. SIGRTMAX (64), counted from either end.
    expect(parseSignal("RTMIN")).toBe(34);
    expect(parseSignal("SIGRTMIN+3")).toBe(37);
    expect(parseSignal("RTMAX-2")).toBe(62);
    expect(parseSignal("64")).toBe(64);
    for (const bad of ["RTMIN+31", "RTMIN+40", "RTMIN-1", "RTMAX+1", "RTMAX-31", "65", "0", "constructor"]) {
      expect(() => parseSignal(bad)).toThrow(`invalid signal: ${bad}`);
    }
  });
  test("restart policies are parsed strictly", () => {
    for (const bad of ["on-failure:", "on-failure:3:4", "on-failure: 3", "on-failure:0x10", ":3"]) expect(() => parseRestart(bad)).toThrow(/restart policy/);
  });
  test("integers and sizes that JS cannot hold exactly are out of range", () => {
    expect(() => parseInteger("99999999999999999999", "--pids-limit", -1)).toThrow(/value out of range/);
    expect(() => parseSize("99999999999999999999999", "-m")).toThrow(/out of range/);
    expect(parseMemory("0")).toBeUndefined(); // docker: 0 is no limit
  });
});

describe("mount specs", () => {
  const exists = (p: string) => p === "/srv";
  test("-v forms", () => {
    expect(parseVolumeSpec("/srv:/data:ro", exists)).toEqual({ kind: "bind", source: "/srv", destination: "/data", readOnly: true });
    expect(parseVolumeSpec("cache:/var/cache", exists)).toEqual({ kind: "volume", source: "cache", destination: "/var/cache", readOnly: false });
    expect(parseVolumeSpec("/anon", exists)).toEqual({ kind: "volume", source: "", destination: "/anon", readOnly: false });
    expect(() => parseVolumeSpec("/missing:/data", exists)).toThrow("bind source path does not exist: /missing");
    expect(() => parseVolumeSpec("/srv:relative", exists)).toThrow(/must be absolute/);
    expect(() => parseVolumeSpec("/srv:/data:xx", exists)).toThrow(/unknown mode/);
  });
  test("--tmpfs", () => {
    expect(parseTmpfs("/run:size=64m,mode=1777")).toEqual({ kind: "tmpfs", source: "tmpfs", destination: "/run", readOnly: false, options: ["size=64m", "mode=1777"] });
    expect(() => parseTmpfs("/run:bogus")).toThrow(/invalid --tmpfs option/);
    // Sizes as the kernel reads them: either case, and % of memory.
    expect(parseTmpfs("/run:size=1M,nr_inodes=1K").options).toEqual(["size=1M", "nr_inodes=1K"]);
    expect(parseTmpfs("/run:size=50%").options).toEqual(["size=50%"]);
  });
  test("-p", () => {
    expect(parsePublish("8080:80")).toEqual([{ hostIp: "0.0.0.0", hostPort: 8080, containerPort: 80, proto: "tcp" }]);
    expect(parsePublish("127.0.0.1:53:53/udp")).toEqual([{ hostIp: "127.0.0.1", hostPort: 53, containerPort: 53, proto: "udp" }]);
    expect(parsePublish("1000-2000:81")).toEqual([{ hostIp: "0.0.0.0", hostPort: 1000, hostPortEnd: 2000, containerPort: 81, proto: "tcp" }]);
    expect(() => parsePublish("99999:80")).toThrow(/ports are 1-65535/);
  });
});

describe("image config applied as docker does", () => {
  const image = { ref: "img", id: "sha256:" + "a".repeat(64), config: { Entrypoint: ["/entry"], Cmd: ["default"], Env: ["PATH=/bin", "A=image"], WorkingDir: "/app", User: "app" } };
  test("args replace Cmd, keep Entrypoint", () => {
    const c = buildConfig({ image: "img", args: ["x", "y"] }, image, "f".repeat(64));
    expect([...c.entrypoint, ...c.cmd]).toEqual(["/entry", "x", "y"]);
    expect(c.workingDir).toBe("/app");
    expect(c.user).toBe("app");
  });
  test("--entrypoint clears Cmd; -e overrides image Env", () => {
    const c = buildConfig({ image: "img", args: [], entrypoint: "sh", env: ["A=flag", "B=2"], workdir: "/w", user: "0:0" }, image, "f".repeat(64));
    expect([...c.entrypoint, ...c.cmd]).toEqual(["sh"]);
    expect(c.env).toEqual(["PATH=/bin", "A=flag", "B=2"]);
    expect(c.workingDir).toBe("/w");
    expect(c.user).toBe("0:0");
    expect(c.hostname).toBe("ffffffffffff");
  });
  test("no command at all is an error", () => {
    expect(() => buildConfig({ image: "img", args: [] }, { ...image, config: {} }, "f".repeat(64))).toThrow(/no command specified/);
  });
  test("-m without --memory-swap allows as much swap as memory; --cpus becomes a quota", () => {
    const c = buildConfig({ image: "img", args: [], memory: "64m", cpus: "0.5", pidsLimit: "100" }, image, "f".repeat(64));
    expect(resourcesOf(c, true)).toEqual({ memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 100 } });
  });
  test("-P publishes every exposed port; --add-host, --dns, --log-opt", () => {
    const img = { ...image, config: { ...image.config, ExposedPorts: { "80/tcp": {}, "53/udp": {} } } };
    const c = buildConfig({ image: "img", args: [], publishAll: true, publish: ["8080:80"], addHosts: ["db:10.0.0.5"], dns: ["9.9.9.9"], logOpts: ["max-size=1m"] }, img, "f".repeat(64));
    expect(c.publish.map((p) => `${p.hostPort}:${p.containerPort}/${p.proto}`)).toEqual(["8080:80/tcp", "0:53/udp"]);
    expect(c.extraHosts).toEqual([{ ip: "10.0.0.5", names: ["db"] }]);
    expect(c.dns).toEqual(["9.9.9.9"]);
    expect(c.logMaxBytes).toBe(1024 * 1024);
    expect(() => buildConfig({ image: "img", args: [], dns: ["nope"] }, image, "f".repeat(64))).toThrow(/invalid IP address in --dns/);
    expect(() => buildConfig({ image: "img", args: [], logOpts: ["mode=x"] }, image, "f".repeat(64))).toThrow(/unknown log opt/);
    // host-gateway (docker's name for the host as the container reaches it) needs a bridge's gateway.
    expect(buildConfig({ image: "img", args: [], addHosts: ["gw:host-gateway"] }, image, "f".repeat(64)).extraHosts).toEqual([{ ip: "host-gateway", names: ["gw"] }]);
    expect(() => buildConfig({ image: "img", args: [], network: "none", addHosts: ["gw:host-gateway"] }, image, "f".repeat(64))).toThrow(/host-gateway needs a bridge network/);
  });

  test("env and label files as docker reads them", () => {
    const dir = require("node:fs").mkdtempSync("/tmp/berth-envfile-");
    const f = (name: string, data: string | Buffer) => { require("node:fs").writeFileSync(`${dir}/${name}`, data); return `${dir}/${name}`; };
    try {
      expect(readEnvFile(f("ok", "\uFEFFA=1\n# c\n\n  B=two words\r\nC=\n"))).toEqual(["A=1", "B=two words", "C="]);
      expect(() => readEnvFile(f("nul", "A=1\nB=\0\n"))).toThrow(/contains a NUL byte at line 2/);
      expect(() => readEnvFile(f("utf", Buffer.from([0x41, 0x3d, 0xc3, 0x28])))).toThrow(/invalid utf8 bytes at line 1/);
      expect(() => readEnvFile(f("blank", "A B=1\n"))).toThrow(/variable 'A B' contains whitespaces/);
      expect(() => readEnvFile(`${dir}/missing`)).toThrow(`open ${dir}/missing: no such file or directory`);
      expect(parseLabels(["a=1", "b", "c="], [f("labels", "d=4\n")])).toEqual({ d: "4", a: "1", b: "", c: "" });
      expect(() => parseLabels(["=x"])).toThrow("invalid label '=x': empty name");
      expect(() => parseLabels(["a b=1"])).toThrow("label 'a b' contains whitespaces");
    } finally {
      require("node:fs").rmSync(dir, { recursive: true, force: true });
    }
  });

  test("env merge keeps the last value of a key", () => {
    expect(mergeEnv(["A=1", "B=1"], ["A=2"])).toEqual(["A=2", "B=1"]);
  });
});

describe("cli parsing and formatting", () => {
  const spec = { name: "run", usage: "run", summary: "", flags: [{ long: "detach", short: "d", kind: "bool" as const, help: "" }, ...CREATE_FLAGS], stopAtPositional: true };
  test("combined short flags, attached values, args after the image", () => {
    const p = parseFlags(spec, ["-dit", "-eA=1", "-e", "B=2", "--name=web", "-p80:80", "busybox", "sh", "-c", "echo -n hi"]);
    expect([...p.bools].sort()).toEqual(["detach", "interactive", "tty"]);
    expect(p.lists.get("env")).toEqual(["A=1", "B=2"]);
    expect(p.strings.get("name")).toBe("web");
    expect(p.lists.get("publish")).toEqual(["80:80"]);
    expect(p.args).toEqual(["busybox", "sh", "-c", "echo -n hi"]);
  });
  test("templates", () => {
    expect(renderTemplate("{{.Names}}\\t{{.State}}", { Names: "web", State: "running" })).toBe("web\trunning");
    expect(renderTemplate("{{json .Labels}}", { Labels: { a: "b" } })).toBe('{"a":"b"}');
    expect(formatRows("table {{.ID}}\\t{{.Names}}", [{ ID: "abc", Names: "web" }])).toBe("ID    NAMES\nabc   web\n");
  });
  test("names", () => {
    const n = randomName(() => false);
    expect(validName(n)).toBe(true);
    expect(validName("bad/name")).toBe(false);
  });
});

describe("users", () => {
  test("no USER in an image without /etc/passwd is root (0:0), as docker; a named user still needs an entry", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { resolveUser } = await import("../../src/engine/users.ts");
    const rootfs = mkdtempSync(join(tmpdir(), "berth-nopasswd-"));
    try {
      expect(resolveUser(rootfs, "")).toEqual({ uid: 0, gid: 0, additionalGids: [], home: "/" });
      expect(resolveUser(rootfs, "1000")).toMatchObject({ uid: 1000, gid: 0 });
      expect(() => resolveUser(rootfs, "root")).toThrow("unable to find user root");
    } finally {
      rmSync(rootfs, { recursive: true, force: true });
    }
  });
});
