// systemd socket activation: the service serves on the socket systemd passed (LISTEN_FDS at fd
// 3) instead of binding one. Driven by systemd-socket-activate (the systemd package), which does
// what a .socket unit does, and by the real docker CLI and curl over that socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { BERTH, cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
beforeAll(async () => { s = await startTestService([], { activate: true }); });
afterAll(async () => { await s?.stop(); });

describe("socket activation", () => {
  test("the docker CLI and curl work over the passed socket; attach with stdin (a hijacked connection) too", async () => {
    const v = s.docker(["version", "--format", "{{.Server.APIVersion}}"]);
    expect(v.stderr).toBe("");
    expect(v.stdout.trim()).toBe("1.44");
    // the service, not systemd-socket-activate, now answers: the socket is still the one it bound
    expect(statSync(s.socket).isSocket()).toBe(true);
    const curl = Bun.spawnSync(["curl", "-s", "--unix-socket", s.socket, "http://docker/_ping"], { stdout: "pipe" });
    expect(curl.stdout.toString()).toBe("OK");
    const r = s.docker(["run", "-i", "--rm", "--network", "none", "busybox", "cat"], { stdin: "through fd 3\n" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("through fd 3\n");
    expect(s.docker(["ps", "-aq"]).stdout.trim()).toBe("");
  });

  test("the service was activated: it runs with LISTEN_FDS=1 and serves the socket at fd 3", () => {
    // systemd-socket-activate exec'd the service in its own process: its exec-time environment
    expect(readFileSync(`/proc/${s.proc.pid}/environ`, "utf8").split("\0")).toContain("LISTEN_FDS=1");
    expect(readlinkSync(`/proc/${s.proc.pid}/fd/3`)).toMatch(/^socket:/);
  });

  test("--host fd:// without a passed socket is refused with what to do", async () => {
    const root = await engineRoot();
    try {
      const r = Bun.spawnSync([BERTH, "--root", root, "system", "service", "--host", "fd://"], { stderr: "pipe", env: { ...process.env, LISTEN_FDS: "1", LISTEN_PID: "1" } });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr.toString()).toContain("no socket was passed");
    } finally {
      cleanupRoot(root);
    }
  });
});
