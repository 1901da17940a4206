import { describe, expect, test } from "bun:test";
import {
  CAPABILITY_NAMES, CapabilityError, DEFAULT_CAPABILITIES, capabilitiesFromMask, capabilitiesRecord,
  capabilityMask, capabilityName, capabilityNumber, defaultCapabilities, normalizeCapability,
} from "../../src/security/capabilities.ts";

describe("capability names", () => {
  test("numbers follow linux/capability.h", () => {
    expect(CAPABILITY_NAMES.length).toBe(41);
    expect(capabilityNumber("CAP_CHOWN")).toBe(0);
    expect(capabilityNumber("CAP_SETPCAP")).toBe(8);
    expect(capabilityNumber("CAP_SYS_ADMIN")).toBe(21);
    expect(capabilityNumber("CAP_SYS_RESOURCE")).toBe(24);
    expect(capabilityNumber("CAP_AUDIT_READ")).toBe(37);
    expect(capabilityNumber("CAP_CHECKPOINT_RESTORE")).toBe(40);
    expect(capabilityName(39)).toBe("CAP_BPF");
  });

  test("numbers agree with the kernel's own count", async () => {
    const last = Number((await Bun.file("/proc/sys/kernel/cap_last_cap").text()).trim());
    expect(last).toBeGreaterThanOrEqual(40);
    expect(CAPABILITY_NAMES.length - 1).toBeLessThanOrEqual(last);
  });

  test("short and lower-case forms are accepted", () => {
    expect(normalizeCapability("sys_admin")).toBe("CAP_SYS_ADMIN");
    expect(normalizeCapability("NET_RAW")).toBe("CAP_NET_RAW");
  });

  test("unknown names are rejected with the field and the name", () => {
    expect(() => capabilityNumber("CAP_SYS_ADMN")).toThrow(CapabilityError);
    expect(() => capabilityMask(["CAP_CHOWN", "CAP_FLY"], "process.capabilities.bounding")).toThrow(
      /process\.capabilities\.bounding: unknown capability "CAP_FLY"/,
    );
    expect(() => capabilityName(41)).toThrow(/41/);
  });
});

describe("caps record", () => {
  test("masks are decimal u64 strings in plan order, then the names by bit number", () => {
    const rec = capabilitiesRecord({
      bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_CHECKPOINT_RESTORE"],
      effective: ["CAP_KILL"],
      permitted: ["CAP_KILL", "CAP_CHOWN"],
      inheritable: [],
      ambient: ["CAP_KILL"],
    });
    expect(rec).toEqual(["caps", String(1n | (1n << 5n) | (1n << 40n)), "32", "33", "0", "32", ...CAPABILITY_NAMES]);
  });

  test("no capabilities object: every set empty", () => {
    expect(capabilitiesRecord(undefined)).toEqual(["caps", "0", "0", "0", "0", "0", ...CAPABILITY_NAMES]);
  });

  test("an unknown name in any set fails the whole record", () => {
    expect(() => capabilitiesRecord({ ambient: ["CAP_NOPE"] })).toThrow(/ambient.*CAP_NOPE/);
  });

  test("mask round-trips to names", () => {
    expect(capabilitiesFromMask(capabilityMask(["CAP_BPF", "CAP_CHOWN"]))).toEqual(["CAP_CHOWN", "CAP_BPF"]);
  });
});

describe("Docker's default set", () => {
  test("has the 14 capabilities Docker grants", () => {
    expect(DEFAULT_CAPABILITIES.length).toBe(14);
    expect(new Set(DEFAULT_CAPABILITIES)).toEqual(new Set([
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
      "CAP_AUDIT_WRITE",
    ]));
    expect(DEFAULT_CAPABILITIES).not.toContain("CAP_SYS_ADMIN");
  });

  test("inheritable and ambient stay empty (CVE-2022-29162)", () => {
    const caps = defaultCapabilities();
    expect(caps.inheritable).toBeUndefined();
    expect(caps.ambient).toBeUndefined();
    expect(caps.bounding).toEqual([...DEFAULT_CAPABILITIES]);
  });

  test("cap-add and cap-drop, ALL included", () => {
    const caps = defaultCapabilities(["sys_admin"], ["CAP_NET_RAW"]);
    expect(caps.bounding).toContain("CAP_SYS_ADMIN");
    expect(caps.bounding).not.toContain("CAP_NET_RAW");
    expect(defaultCapabilities([], ["ALL"]).bounding).toEqual([]);
    expect(defaultCapabilities(["ALL"]).bounding!.length).toBe(41);
    expect(() => defaultCapabilities(["CAP_WHAT"])).toThrow(CapabilityError);
  });
});
