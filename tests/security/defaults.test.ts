import { describe, expect, test } from "bun:test";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, currentLimits, defaultRlimits } from "../../src/security/defaults.ts";

describe("hardening defaults", () => {
  test("masked and read-only paths match Docker's", () => {
    for (const path of ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/acpi", "/proc/scsi"]) {
      expect(DEFAULT_MASKED_PATHS).toContain(path);
    }
    expect([...DEFAULT_READONLY_PATHS].sort()).toEqual(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);
  });

  test("reads this process's limits", () => {
    const limits = currentLimits();
    expect(limits.get("RLIMIT_NOFILE")!.hard).toBeGreaterThan(0);
    expect(limits.size).toBeGreaterThanOrEqual(16);
  });

  test("rlimits never exceed the caller's hard limit", () => {
    const mine = currentLimits().get("RLIMIT_NOFILE")!;
    const [nofile] = defaultRlimits();
    expect(nofile!.type).toBe("RLIMIT_NOFILE");
    if (mine.hard !== -1) expect(nofile!.hard).toBeLessThanOrEqual(mine.hard);
    expect(nofile!.soft).toBeLessThanOrEqual(nofile!.hard);
    expect(defaultRlimits(new Map([["RLIMIT_NOFILE", { soft: 256, hard: 512 }]]))).toEqual([{ type: "RLIMIT_NOFILE", soft: 512, hard: 512 }]);
    expect(defaultRlimits(new Map([["RLIMIT_NOFILE", { soft: -1, hard: -1 }]]))).toEqual([{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1048576 }]);
  });
});
