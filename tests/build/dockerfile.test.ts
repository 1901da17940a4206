// The Dockerfile grammar (src/build/dockerfile.ts): directives, continuations, heredocs, flags,
// the JSON form, and variable expansion as docker does it.
import { describe, expect, test } from "bun:test";
import { DockerfileError, expandWord, expandWords, keyValues, parseDockerfile } from "../../src/build/dockerfile.ts";

describe("Dockerfile parser", () => {
  test("directives: escape changes the continuation character; syntax is ignored with a note", () => {
    const df = parseDockerfile("# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN echo a `\n  b\nCOPY C:\\dir\\ /x/\n");
    expect(df.escape).toBe("`");
    expect(df.notes[0]).toContain("syntax directive");
    expect(df.instructions.map((i) => i.keyword)).toEqual(["FROM", "RUN", "COPY"]);
    expect(df.instructions[1]!.args).toBe("echo a   b");
    expect(df.instructions[2]!.args).toBe("C:\\dir\\ /x/");
  });

  test("a directive after a comment is a comment", () => {
    const df = parseDockerfile("# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n");
    expect(df.escape).toBe("\\");
    expect(df.instructions[1]!.args).toBe("a  b");
  });

  test("continuations skip comment lines; blank lines and comments between instructions are ignored", () => {
    const df = parseDockerfile("FROM busybox\n\n# a comment\nRUN echo one \\\n# inside\n    two\n");
    expect(df.instructions[1]!.args).toBe("echo one     two");
    expect(df.instructions[1]!.line).toBe(4);
  });

  test("heredocs: bodies, <<- strips tabs, several in one instruction, quoted names", () => {
    const df = parseDockerfile("FROM busybox\nRUN <<EOF\necho hi\nEOF\nCOPY <<-A <<'B' /dir/\n\tone\n\tA\ntwo $X\nB\nCMD x\n");
    const [, run, copy, cmd] = df.instructions;
    expect(run!.heredocs).toEqual([{ name: "EOF", content: "echo hi\n", quoted: false }]);
    expect(copy!.heredocs).toEqual([{ name: "A", content: "one\n", quoted: false }, { name: "B", content: "two $X\n", quoted: true }]);
    expect(cmd!.keyword).toBe("CMD");
    expect(() => parseDockerfile("FROM busybox\nRUN <<EOF\necho\n")).toThrow(DockerfileError);
  });

  test("flags and the JSON form", () => {
    const df = parseDockerfile('FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 --link a b\nCMD ["echo", "x y"]\nENTRYPOINT [not json\n');
    expect(df.instructions[0]!.flags).toEqual({ platform: "linux/amd64" });
    expect(df.instructions[0]!.args).toBe("busybox AS b");
    expect(df.instructions[1]!.flags).toEqual({ from: "b", chown: "1:2", link: "true" });
    expect(df.instructions[2]!.json).toEqual(["echo", "x y"]);
    expect(df.instructions[3]!.json).toBeNull();
  });

  test("several RUN --mount flags are all kept, in order", () => {
    const df = parseDockerfile("FROM busybox\nRUN --mount=type=cache,target=/c --network=none --mount=type=secret,id=s \\\n  --mount=type=bind,source=a,target=/a make\n");
    expect(df.instructions[1]!.flags).toEqual({ mount: "type=cache,target=/c\ntype=secret,id=s\ntype=bind,source=a,target=/a", network: "none" });
    expect(df.instructions[1]!.args).toBe("make");
  });

  test("an unknown instruction is refused with its line", () => {
    expect(() => parseDockerfile("FROM busybox\nFROB x\n")).toThrow("line 2: unknown instruction: FROB");
  });

  test("variables: $X, ${X}, ${X:-d}, ${X:+a}, escapes and single quotes", () => {
    const vars = new Map([["A", "1"], ["E", ""]]);
    expect(expandWord("$A-${A}", vars)).toBe("1-1");
    expect(expandWord("${B:-def}/${E:-empty}/${E-set}", vars)).toBe("def/empty/");
    expect(expandWord("${A:+alt}${B:+no}", vars)).toBe("alt");
    expect(expandWord("\\$A", vars)).toBe("$A");
    expect(expandWords("'$A' \"$A b\" c\\ d", vars)).toEqual(["$A", "1 b", "c d"]);
    expect(keyValues("ENV", 'X=$A Y="two words" W=\'$A\'', vars)).toEqual([["X", "1"], ["Y", "two words"], ["W", "$A"]]);
    expect(() => keyValues("ENV", "X=1 Z", vars)).toThrow("expected KEY=VALUE");
  });

  test("ENV's legacy form and ARG without a value", () => {
    expect(keyValues("ENV", "PATH /a b", new Map())).toEqual([["PATH", "/a b"]]);
    expect(keyValues("ARG", "V", new Map())).toEqual([["V", "\u0000unset"]]);
  });
});
