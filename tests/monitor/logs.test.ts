// The log format end to end: parsing, -t, --since, --tail (also across rotation and partial
// lines), rotation by size under a real monitor, and -f until the container exits.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitExitFile } from "../../src/engine/monitor.ts";
import { parseLogRecord, parseSince, parseTimestamp, readLog, writeLogs, type LogWriteOptions } from "../../src/engine/logs.ts";
import { BUSYBOX, monitorFixture } from "./helpers.ts";

const fx = monitorFixture();

async function render(path: string, opts: LogWriteOptions = {}) {
  const out = { stdout: "", stderr: "" };
  await writeLogs(path, opts, {
    stdout: (d) => { out.stdout += Buffer.from(d).toString(); },
    stderr: (d) => { out.stderr += Buffer.from(d).toString(); },
  });
  return out;
}

const T = (sec: number, ns = 0) => `2026-11-23T16:00:${String(sec).padStart(2, "0")}.${String(ns).padStart(9, "0")}Z`;

describe("log format", () => {
  test("parses records and rejects lines that are not", () => {
    const r = parseLogRecord(Buffer.from(`${T(1, 5)} stderr P half a line `))!;
    expect(r).toMatchObject({ time: T(1, 5), stream: "stderr", partial: true });
    expect(r.text.toString()).toBe("half a line ");
    expect(r.timeNs).toBe(BigInt(Date.parse("2026-11-23T16:00:01Z")) * 1_000_000n + 5n);
    expect(parseLogRecord(Buffer.from(`${T(1)} stdout F `))!.text.length).toBe(0);
    expect(parseLogRecord(Buffer.from(`${T(1)} stdout F`))!.text.length).toBe(0);
    expect(parseLogRecord(Buffer.from(`${T(1)} stdin F x`))).toBeNull();
    expect(parseLogRecord(Buffer.from(`yesterday stdout F x`))).toBeNull();
    expect(parseLogRecord(Buffer.from(`${T(1)} stdout X x`))).toBeNull();
  });

  test("timestamps and --since values", () => {
    expect(parseTimestamp("2026-11-23T16:00:00.5Z")).toBe(parseTimestamp("2026-11-23T16:00:00.500000000Z"));
    expect(parseTimestamp("2026-11-23T18:00:00+02:00")).toBe(parseTimestamp("2026-11-23T16:00:00Z"));
    const now = new Date("2026-11-23T16:10:00Z");
    expect(parseSince("10m", now)).toBe(parseTimestamp("2026-11-23T16:00:00Z")!);
    expect(parseSince("1h30m", now)).toBe(parseTimestamp("2026-11-23T14:40:00Z")!);
    expect(parseSince("1795449600.25")).toBe(1795449600_250000000n);
    expect(parseSince("2026-11-23")).toBe(parseTimestamp("2026-11-23T00:00:00Z")!);
    expect(() => parseSince("soon")).toThrow(/invalid time "soon"/);
  });

  test("reassembles partial lines, prefixes -t once per line, filters --since", async () => {
    const log = join(fx.newDir(), "log");
    writeFileSync(log, [
      `${T(1)} stdout F first`,
      `${T(2)} stdout P sec`,
      `${T(2, 1)} stderr F an error`,
      `${T(3)} stdout F ond`,
      `garbage that is skipped`,
      `${T(4)} stdout P no newline at the end`,
      "",
    ].join("\n"));
    expect(await render(log)).toEqual({ stdout: "first\nsecond\nno newline at the end", stderr: "an error\n" });
    expect((await render(log, { timestamps: true })).stdout).toBe(`${T(1)} first\n${T(2)} second\n${T(4)} no newline at the end`);
    expect(await render(log, { since: parseTimestamp(T(2, 1))! })).toEqual({ stdout: "ond\nno newline at the end", stderr: "an error\n" });
  });

  test("--tail counts whole lines, across partial records and the rotated file", async () => {
    const log = join(fx.newDir(), "log");
    writeFileSync(`${log}.1`, `${T(1)} stdout F one\n${T(2)} stdout P tw\n`);
    writeFileSync(log, `${T(3)} stdout F o\n${T(4)} stderr F three\n${T(5)} stdout F four\n`);
    expect((await render(log, { tail: 1 })).stdout).toBe("four\n");
    expect(await render(log, { tail: 2 })).toEqual({ stdout: "four\n", stderr: "three\n" });
    expect(await render(log, { tail: 3 })).toEqual({ stdout: "two\nfour\n", stderr: "three\n" });
    expect(await render(log, { tail: 100 })).toEqual({ stdout: "one\ntwo\nfour\n", stderr: "three\n" });
    expect(await render(log, { tail: 0 })).toEqual({ stdout: "", stderr: "" });
  });

  test("--tail reads only the end of a large log", async () => {
    const log = join(fx.newDir(), "log");
    const lines: string[] = [];
    for (let i = 0; i < 50000; i++) lines.push(`${T(i % 60)} stdout F line ${i}`);
    writeFileSync(log, lines.join("\n") + "\n");
    expect((await render(log, { tail: 3 })).stdout).toBe("line 49997\nline 49998\nline 49999\n");
    expect((await render(log, { tail: 20000 })).stdout.split("\n")[0]).toBe("line 30000");
  });
});

describe("log under the monitor", () => {
  test("rotates by size into <log>.1, never splitting a record, and reads back in order", async () => {
    const max = 8192;
    const { log, exit: exitFile } = await fx.direct([BUSYBOX, "sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done"], { logMaxBytes: max });
    expect((await waitExitFile(exitFile)).exitCode).toBe(0);
    expect(existsSync(`${log}.1`)).toBe(true);
    for (const f of [log, `${log}.1`]) {
      expect(statSync(f).size).toBeLessThanOrEqual(max);
      const text = readFileSync(f, "utf8");
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.split("\n").slice(0, -1)) expect(parseLogRecord(Buffer.from(line))).not.toBeNull();
    }
    const shown = (await render(log)).stdout.split("\n").slice(0, -1);
    const first = Number(shown[0]!.split(" ")[1]);
    expect(first).toBeGreaterThan(0); // older lines were rotated away
    expect(shown).toEqual(Array.from({ length: 3000 - first }, (_, k) => `line ${first + k}`));
    expect((await render(log, { tail: 2 })).stdout).toBe("line 2998\nline 2999\n");
  });

  test("-f follows the log as it grows and ends when the container exits", async () => {
    const { log, exit: exitFile } = await fx.direct([BUSYBOX, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.1; done; printf bye"]);
    const seen: string[] = [];
    await writeLogs(log, { follow: true, stop: waitExitFile(exitFile) }, {
      stdout: (d) => { seen.push(Buffer.from(d).toString()); },
      stderr: () => {},
    });
    expect(seen.join("")).toBe("tick 1\ntick 2\ntick 3\nbye");
  });

  test("-f keeps following across rotations", async () => {
    // Batches of 100 rows (~4.5 KB of log each) with pauses: every batch rotates the 6 KB log
    // at most once, and the follower has time to read the renamed file's rest.
    const script = "i=0; for b in 1 2 3 4; do j=0; while [ $j -lt 100 ]; do echo row $i; i=$((i+1)); j=$((j+1)); done; sleep 0.3; done";
    const { log, exit: exitFile } = await fx.direct([BUSYBOX, "sh", "-c", script], { logMaxBytes: 6000 });
    const seen: string[] = [];
    await writeLogs(log, { follow: true, stop: waitExitFile(exitFile) }, {
      stdout: (d) => { seen.push(Buffer.from(d).toString()); },
      stderr: () => {},
    });
    expect(existsSync(`${log}.1`)).toBe(true);
    const rows = seen.join("").split("\n").slice(0, -1);
    expect(rows).toEqual(Array.from({ length: 400 }, (_, k) => `row ${k}`));
  });
});
