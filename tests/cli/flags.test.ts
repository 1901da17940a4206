// The one flag grammar (src/cli/flags.ts): docker's forms for berth, runc's for berth-runtime,
// the same errors and --help from each command's table. The parser needs no root; the last part
// runs bin/berth and bin/berth-runtime to show the forms work the same across commands.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FlagError, HelpRequested, bool, commandSpec, flagLines, helpText, int, list, num, parseFlags, str, type CommandSpec } from "../../src/cli/flags.ts";

const run = commandSpec({
  name: "run", usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]", summary: "Create and run a new container from an image",
  flags: [
    bool("detach", "d", "Run in background"), bool("interactive", "i", "Keep STDIN open"), bool("tty", "t", "Allocate a pseudo-TTY"),
    bool("rm", undefined, "Remove when it exits"), str("name", undefined, "Name"), list("env", "e", "Environment"), list("publish", "p", "Publish"),
    str("hostname", "h", "Host name"), int("stop-timeout", undefined, "Timeout", { min: -1 }), num("cpus", undefined, "CPUs"),
  ],
  stopAtPositional: true, minArgs: 1,
});
const ps = commandSpec({
  name: "ps", usage: "ps [OPTIONS]", summary: "List containers", maxArgs: 0,
  flags: [bool("all", "a", "Show all"), bool("quiet", "q", "Only IDs"), list("filter", "f", "Filter"), int("last", "n", "Show n last", { default: -1 })],
});
const rm = commandSpec({ name: "rm", usage: "rm [OPTIONS] CONTAINER [CONTAINER...]", summary: "Remove", minArgs: 1, flags: [bool("force", "f", "Force")] });

/** The FlagError a command line makes (or fails the test). */
function flagError(spec: CommandSpec, argv: string[], dialect: "docker" | "runc" = "docker"): FlagError {
  try {
    parseFlags(spec, argv, dialect);
  } catch (e) {
    if (e instanceof FlagError) return e;
    throw e;
  }
  throw new Error(`no error for ${argv.join(" ")}`);
}

describe("docker's grammar (berth)", () => {
  test("long flags: --name value, --name=value, --env=A=B", () => {
    const p = parseFlags(run, ["--name", "web", "--env=A=B", "--env", "C=D", "busybox"]);
    expect(p.get("name")).toBe("web");
    expect(p.get("env")).toEqual(["A=B", "C=D"]);
    expect(p.args).toEqual(["busybox"]);
    expect(parseFlags(run, ["--name=", "busybox"]).get("name")).toBe("");
  });

  test("short flags: -p 80, -p=80, -p80, -eA=B; combined booleans -it, -dit; a value at the end of a group", () => {
    for (const form of [["-p", "80"], ["-p=80"], ["-p80"]]) expect(parseFlags(run, [...form, "img"]).get("publish")).toEqual(["80"]);
    expect(parseFlags(run, ["-eA=B", "img"]).get("env")).toEqual(["A=B"]);
    expect(parseFlags(run, ["-e=A=B", "img"]).get("env")).toEqual(["A=B"]);
    const dit = parseFlags(run, ["-dit", "img"]);
    expect([dit.get("detach"), dit.get("interactive"), dit.get("tty")]).toEqual([true, true, true]);
    const it = parseFlags(run, ["-it", "img"]);
    expect([it.get("detach"), it.get("interactive"), it.get("tty")]).toEqual([false, true, true]);
    const group = parseFlags(run, ["-itp", "8080:80", "-dep=x", "img"]);
    expect(group.get("publish")).toEqual(["8080:80"]);
    expect(group.get("env")).toEqual(["p=x"]);
  });

  test("booleans take =true/=false (Go's words) and are never followed by a value", () => {
    expect(parseFlags(run, ["--rm=false", "img"]).get("rm")).toBe(false);
    expect(parseFlags(run, ["--rm", "--rm=0", "img"]).get("rm")).toBe(false);
    expect(parseFlags(run, ["-d=false", "img"]).get("detach")).toBe(false);
    expect(parseFlags(run, ["--detach=TRUE", "img"]).get("detach")).toBe(true);
    expect(parseFlags(run, ["--rm", "false"]).args).toEqual(["false"]);
    expect(flagError(run, ["--rm=maybe", "img"]).message).toBe(`invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax`);
  });

  test("repeated flags: lists keep every value in order, a string keeps the last", () => {
    const p = parseFlags(run, ["-e", "A=1", "--env", "B=2", "-eC=3", "--name", "a", "--name", "b", "img"]);
    expect(p.get("env")).toEqual(["A=1", "B=2", "C=3"]);
    expect(p.get("name")).toBe("b");
    expect(parseFlags(run, ["img"]).get("env")).toEqual([]);
  });

  test("numbers are parsed once, with docker's messages", () => {
    expect(parseFlags(run, ["--stop-timeout", "-1", "--cpus=1.5", "img"]).numbers).toEqual(new Map([["stop-timeout", -1], ["cpus", 1.5]]));
    expect(flagError(run, ["--stop-timeout", "x", "img"]).message).toBe(`invalid argument "x" for "--stop-timeout" flag: strconv.ParseInt: parsing "x": invalid syntax`);
    expect(flagError(run, ["--stop-timeout=-2", "img"]).message).toBe(`invalid argument "-2" for "--stop-timeout" flag: must be at least -1`);
    expect(flagError(run, ["--cpus", "lots", "img"]).message).toBe(`invalid argument "lots" for "--cpus" flag: strconv.ParseFloat: parsing "lots": invalid syntax`);
    expect(flagError(ps, ["-n", "1.5"]).message).toBe(`invalid argument "1.5" for "-n, --last" flag: strconv.ParseInt: parsing "1.5": invalid syntax`);
    expect(parseFlags(ps, []).get("last")).toBe(-1);
  });

  test("run stops at the image: the rest is the container's command, flags included", () => {
    const p = parseFlags(run, ["-d", "busybox", "sh", "-c", "echo -n hi", "--rm", "-e", "X"]);
    expect(p.get("rm")).toBe(false);
    expect(p.get("env")).toEqual([]);
    expect(p.args).toEqual(["busybox", "sh", "-c", "echo -n hi", "--rm", "-e", "X"]);
    expect(parseFlags(run, ["busybox", "--help"]).args).toEqual(["busybox", "--help"]);
  });

  test("other commands take flags after their arguments; -- ends the flags; - is an argument", () => {
    const p = parseFlags(rm, ["a", "-f", "b"]);
    expect(p.get("force")).toBe(true);
    expect(p.args).toEqual(["a", "b"]);
    expect(parseFlags(rm, ["--", "-f", "--force"]).args).toEqual(["-f", "--force"]);
    expect(parseFlags(rm, ["-"]).args).toEqual(["-"]);
    expect(parseFlags(run, ["--", "-img", "-d"]).args).toEqual(["-img", "-d"]);
  });

  test("unknown flags, missing values, bad syntax: pflag's words", () => {
    expect(flagError(run, ["--foo", "img"]).message).toBe("unknown flag: --foo");
    expect(flagError(run, ["--foo=1", "img"]).message).toBe("unknown flag: --foo");
    expect(flagError(run, ["-x", "img"]).message).toBe("unknown shorthand flag: 'x' in -x");
    expect(flagError(run, ["-dix", "img"]).message).toBe("unknown shorthand flag: 'x' in -x");
    expect(flagError(run, ["-xd", "img"]).message).toBe("unknown shorthand flag: 'x' in -xd");
    expect(flagError(run, ["-name", "web", "img"]).message).toBe("unknown shorthand flag: 'n' in -name");
    expect(flagError(run, ["--name"]).message).toBe("flag needs an argument: --name");
    expect(flagError(run, ["-e"]).message).toBe("flag needs an argument: 'e' in -e");
    expect(flagError(run, ["---x", "img"]).message).toBe("bad flag syntax: ---x");
    expect(flagError(run, ["--foo", "img"]).about).toBe("flag");
  });

  test("the number of arguments: docker's messages", () => {
    expect(flagError(run, ["-d"]).message).toBe("requires at least 1 argument");
    expect(flagError(ps, ["x"]).message).toBe("accepts no arguments");
    expect(flagError(rm, []).about).toBe("args");
    const logs = commandSpec({ name: "logs", usage: "logs CONTAINER", summary: "", flags: [], minArgs: 1, maxArgs: 1 });
    expect(flagError(logs, ["a", "b"]).message).toBe("requires exactly 1 argument");
    const port = commandSpec({ name: "port", usage: "port", summary: "", flags: [], minArgs: 1, maxArgs: 2 });
    expect(flagError(port, []).message).toBe("requires at least 1 and at most 2 arguments");
  });

  test("--help anywhere before the arguments end; -h too unless a flag took the letter", () => {
    for (const argv of [["--help"], ["-f", "--help"], ["x", "-h"], ["-fh"]]) expect(() => parseFlags(rm, argv)).toThrow(HelpRequested);
    expect(() => parseFlags(run, ["--help"])).toThrow(HelpRequested);
    expect(parseFlags(run, ["-h", "box", "img"]).get("hostname")).toBe("box");
    expect(() => parseFlags(run, ["-h"])).toThrow("flag needs an argument: 'h' in -h");
  });

  test("--help is made from the table: names, value names, defaults; hidden flags stay out", () => {
    const spec = commandSpec({
      name: "x", usage: "x [OPTIONS]", summary: "Does x",
      flags: [bool("all", "a", "All of them"), str("format", undefined, "Format", { default: "table" }), int("time", "t", "Seconds", { default: 10 }),
        list("env", "e", "Env"), str("memory", "m", "Memory limit", "bytes"), bool("secret", undefined, "Hidden", { hidden: true }), bool("on", undefined, "On", { default: true })],
    });
    expect(helpText(spec, "berth")).toBe([
      "Usage:  berth x [OPTIONS]", "", "Does x", "", "Options:",
      "  -a, --all             All of them",
      "      --format string   Format (default \"table\")",
      "  -t, --time int        Seconds (default 10)",
      "  -e, --env list        Env",
      "  -m, --memory bytes    Memory limit",
      "      --on              On (default true)",
      "",
    ].join("\n"));
    expect(flagLines([str("bundle", "b", "Bundle"), bool("detach", "d", "Detach")], "runc")).toEqual([
      "   --bundle value, -b value   Bundle",
      "   --detach, -d               Detach",
    ]);
  });

  test("defaults: bools may default to true (--pause=false turns them off); given says what was typed", () => {
    const commit = commandSpec({ name: "commit", usage: "", summary: "", flags: [bool("pause", "p", "Pause", { default: true }), str("format", undefined, "", { default: "table" })] });
    expect(parseFlags(commit, []).get("pause")).toBe(true);
    expect(parseFlags(commit, ["--pause=false"]).get("pause")).toBe(false);
    expect(parseFlags(commit, []).get("format")).toBe("table");
    expect(parseFlags(commit, []).given.has("format")).toBe(false);
    expect(parseFlags(commit, ["--format", "table"]).given.has("format")).toBe(true);
  });
});

describe("runc's grammar (berth-runtime)", () => {
  const create = commandSpec({
    name: "create", usage: "create ID", summary: "",
    flags: [str("bundle", "b", "Bundle", { default: "." }), str("pid-file", undefined, "Pid file"), bool("detach", "d", "Detach"), bool("tty", "t", "TTY"), list("env", "e", "Env")],
  });
  const exec = commandSpec({ name: "exec", usage: "exec ID CMD", summary: "", flags: [bool("tty", "t", "TTY"), list("env", "e", "Env")], stopAtPositional: 2 });

  test("one dash or two, for long names and short ones; =value or the next argument", () => {
    for (const argv of [["--bundle", "B"], ["-bundle", "B"], ["-b", "B"], ["--b", "B"], ["--bundle=B"], ["-bundle=B"], ["-b=B"]]) {
      const p = parseFlags(create, [...argv, "id"], "runc");
      expect(p.get("bundle")).toBe("B");
      expect(p.args).toEqual(["id"]);
    }
    expect(parseFlags(create, ["id"], "runc").get("bundle")).toBe(".");
    expect(parseFlags(create, ["-pid-file", "/p", "id"], "runc").get("pid-file")).toBe("/p");
  });

  test("flags after the ID; booleans take =false; combined short booleans; -9 is an argument", () => {
    const p = parseFlags(create, ["id", "-d", "--bundle", "B", "-e", "A=1", "-env=B=2"], "runc");
    expect([p.args, p.get("detach"), p.get("bundle"), p.get("env")]).toEqual([["id"], true, "B", ["A=1", "B=2"]]);
    expect(parseFlags(create, ["-detach=false", "id"], "runc").get("detach")).toBe(false);
    const dt = parseFlags(create, ["-dt", "id"], "runc");
    expect([dt.get("detach"), dt.get("tty")]).toEqual([true, true]);
    expect(parseFlags(create, ["id", "-9"], "runc").args).toEqual(["id", "-9"]);
  });

  test("exec: the command starts at the second argument, and its flags are its own", () => {
    const p = parseFlags(exec, ["-t", "id", "-e", "A=1", "sh", "-c", "echo", "-t"], "runc");
    expect(p.get("tty")).toBe(true);
    expect(p.get("env")).toEqual(["A=1"]);
    expect(p.args).toEqual(["id", "sh", "-c", "echo", "-t"]);
    expect(parseFlags(exec, ["id", "--", "-t"], "runc").args).toEqual(["id", "-t"]);
  });

  test("errors in urfave/cli's words; a mistyped single-dash flag is no short group", () => {
    expect(flagError(create, ["--bogus", "id"], "runc").message).toBe("flag provided but not defined: -bogus");
    expect(flagError(create, ["-bundel", "B", "id"], "runc").message).toBe("flag provided but not defined: -bundel");
    expect(flagError(create, ["-bB", "id"], "runc").message).toBe("flag provided but not defined: -bB");
    expect(flagError(create, ["id", "--bundle"], "runc").message).toBe("flag needs an argument: --bundle");
    expect(flagError(create, ["-detach=maybe", "id"], "runc").message).toBe(`invalid value "maybe" for flag -detach: strconv.ParseBool: parsing "maybe": invalid syntax`);
    for (const h of ["-h", "--help", "-help"]) expect(() => parseFlags(create, [h], "runc")).toThrow(HelpRequested);
  });
});

// ---- the real command lines ----

const REPO = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "berth-flags-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function sh(bin: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([join(REPO, "bin", bin), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, BERTH_ROOT: root } });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
const berth = (...args: string[]) => sh("berth", ["--root", root, ...args]);

describe("bin/berth: the same forms and errors in every command", () => {
  test("an unknown flag: docker's message and 125, for container, image, volume, network and cgroup verbs alike", () => {
    for (const verb of [["run"], ["ps"], ["logs"], ["images"], ["image", "inspect"], ["rmi"], ["volume", "ls"], ["network", "ls"], ["network", "create"], ["cgroup", "list"], ["cgroup", "stat"], ["system", "df"], ["commit"]]) {
      const long = berth(...verb, "--bogus", "x");
      expect(long.stderr).toBe(`unknown flag: --bogus\nSee 'berth ${verb.join(" ")} --help'.\n`);
      expect(long.code).toBe(125);
      const short = berth(...verb, "-Z");
      expect(short.stderr).toBe(`unknown shorthand flag: 'Z' in -Z\nSee 'berth ${verb.join(" ")} --help'.\n`);
      expect(short.code).toBe(125);
    }
    expect(berth("--bogus").stderr).toBe("unknown flag: --bogus\nSee 'berth --help'.\n");
  });

  test("--help from the table for every kind of verb", () => {
    for (const verb of [["ps"], ["images"], ["image", "prune"], ["load"], ["network", "create"], ["cgroup", "set"], ["volume", "create"], ["commit"]]) {
      const r = berth(...verb, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith(`Usage:  berth ${verb.join(" ")}`);
      expect(r.stdout).toContain("Options:");
    }
  });

  test("-q, --quiet, -q=true and --quiet=false mean the same in ps, images and network ls", () => {
    for (const verb of [["ps"], ["images"], ["volume", "ls"]]) {
      for (const quiet of [["-q"], ["--quiet"], ["-q=true"], ["--quiet=1"]]) expect(berth(...verb, ...quiet)).toEqual({ code: 0, stdout: "", stderr: "" });
      expect(berth(...verb, "--quiet=false").stdout).not.toBe("");
    }
  });

  test("flag values attached or apart, and bad numbers, the same way across verbs", () => {
    expect(berth("ps", "-n=x").stderr).toStartWith(`invalid argument "x" for "-n, --last" flag: strconv.ParseInt`);
    expect(berth("stop", "-tx", "c").stderr).toStartWith(`invalid argument "x" for "-t, --time" flag: strconv.ParseInt`);
    expect(berth("cgroup", "top", "-n", "x", "g").stderr).toStartWith(`invalid argument "x" for "-n, --iterations" flag: strconv.ParseInt`);
    for (const r of [berth("ps", "-n=x"), berth("stop", "-tx", "c"), berth("cgroup", "top", "-nx", "g")]) expect(r.code).toBe(125);
    expect(berth("images", "--format={{.ID}}", "-a").code).toBe(0);
    expect(berth("images", "--format", "{{.ID}}", "-qa").code).toBe(0);
  });

  test("the number of arguments is checked the same way for container and image verbs", () => {
    const logs = berth("logs");
    expect(logs.stderr).toStartWith(`"berth logs" requires exactly 1 argument.\nSee 'berth logs --help'.`);
    expect(logs.code).toBe(125);
    const tag = berth("tag", "a");
    expect(tag.stderr).toStartWith(`"berth tag" requires exactly 2 arguments.\nSee 'berth tag --help'.`);
    expect(tag.code).toBe(125);
  });
});

describe("bin/berth-runtime: runc's forms", () => {
  test("single-dash long flags, =values and unknown flags in urfave/cli's words", () => {
    const rt = (...args: string[]) => sh("berth-runtime", ["-root", root, ...args]);
    expect(rt("list", "-format=json")).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
    expect(rt("list", "--format", "json").stdout).toBe("[]\n");
    expect(rt("list", "-f", "json").stdout).toBe("[]\n");
    const bogus = rt("list", "-bogus");
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toStartWith("berth-runtime: flag provided but not defined: -bogus\nusage: berth-runtime list");
    const help = rt("create", "-help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--bundle value, -b value");
  });
});
