// docker's -p grammar through `berth run`: a host range per container, UDP carrying data, -P, what
// `berth port` and `inspect` show, and every malformed or impossible spec refused at create with
// nothing made.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, eventually } from "../engine/helpers.ts";
import { freePort } from "./lab.ts";

let root = "";
beforeAll(async () => {
  root = await engineRoot();
});
afterAll(() => {
  if (root) cleanupRoot(root);
});

function curl(port: number): string {
  const c = Bun.spawnSync(["curl", "-s", "--noproxy", "*", "--max-time", "2", `http://127.0.0.1:${port}/`]);
  return c.exitCode === 0 ? c.stdout.toString() : "";
}

function inspect(name: string): { HostConfig: { PortBindings: Record<string, unknown> }; NetworkSettings: { Ports: Record<string, unknown> } } {
  return JSON.parse(berth(root, ["inspect", name]).stdout)[0];
}

test("-p 1000-2000:81 twice: each container gets its own free port of the range, and both answer", async () => {
  try {
    const ports: number[] = [];
    for (const name of ["r1", "r2"]) {
      const r = berth(root, ["run", "-d", "--name", name, "-p", "1000-2000:81", "busybox", "httpd", "-f", "-p", "81", "-h", "/var/www"]);
      expect(r.stderr).toBe("");
      const line = berth(root, ["port", name]).stdout;
      const m = /^81\/tcp -> 0\.0\.0\.0:(\d+)\n$/.exec(line);
      expect(m).not.toBeNull();
      ports.push(Number(m![1]));
      expect(berth(root, ["port", name, "81/tcp"]).stdout).toBe(`0.0.0.0:${ports.at(-1)}\n`);
      const info = inspect(name);
      expect(info.HostConfig.PortBindings).toEqual({ "81/tcp": [{ HostIp: "0.0.0.0", HostPort: "1000-2000" }] });
      expect(info.NetworkSettings.Ports).toEqual({ "81/tcp": [{ HostIp: "0.0.0.0", HostPort: String(ports.at(-1)) }] });
    }
    expect(ports[0]).not.toBe(ports[1]);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(1000);
      expect(p).toBeLessThanOrEqual(2000);
      expect(await eventually(() => curl(p) === "hello from berth\n")).toBe(true);
    }
    expect(berth(root, ["ps", "--format", "{{.Names}} {{.Ports}}"]).stdout.split("\n").filter(Boolean).sort()).toEqual([
      `r1 0.0.0.0:${ports[0]}->81/tcp`, `r2 0.0.0.0:${ports[1]}->81/tcp`,
    ]);
  } finally {
    berth(root, ["rm", "-f", "r1", "r2"]);
  }
}, 120_000);

test("equal ranges pair up; /sctp is published", () => {
  try {
    const base = freePort(40000, 45000);
    const r = berth(root, ["run", "-d", "--name", "pairs", "-p", `${base}-${base + 1}:80-81`, "-p", `127.0.0.1:${base + 2}:82/sctp`, "busybox", "sleep", "60"]);
    expect(r.stderr).toBe("");
    expect(berth(root, ["port", "pairs"]).stdout).toBe(`80/tcp -> 0.0.0.0:${base}\n81/tcp -> 0.0.0.0:${base + 1}\n82/sctp -> 127.0.0.1:${base + 2}\n`);
  } finally {
    berth(root, ["rm", "-f", "pairs"]);
  }
}, 60_000);

// busybox's nc here has no -u (and no UDP server applet): a static UDP echo server stands in, built
// by the test with the C compiler the build already needs. It prints each datagram and answers it.
const UDP_ECHO = `#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
  if (argc < 2 || fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  for (;;) {
    char buf[512], out[600]; struct sockaddr_in peer; socklen_t len = sizeof peer;
    ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&peer, &len);
    if (n < 0) return 1;
    buf[n] = 0;
    printf("got %s\\n", buf);
    fflush(stdout);
    sendto(fd, out, snprintf(out, sizeof out, "pong %s", buf), 0, (struct sockaddr *)&peer, len);
  }
}
`;

test("a UDP publish carries datagrams both ways between a host client on 127.0.0.1 and the container", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-udp-"));
  try {
    writeFileSync(join(dir, "udpecho.c"), UDP_ECHO);
    const cc = Bun.spawnSync(["cc", "-static", "-O2", "-o", join(dir, "udpecho"), join(dir, "udpecho.c")], { stderr: "pipe" });
    expect(cc.stderr.toString()).toBe("");
    const port = freePort(45000, 50000);
    const r = berth(root, ["run", "-d", "--name", "udp", "-p", `${port}:5353/udp`, "-v", `${dir}/udpecho:/udpecho:ro`, "busybox", "/udpecho", "5353"]);
    expect(r.stderr).toBe("");
    expect(berth(root, ["port", "udp"]).stdout).toBe(`5353/udp -> 0.0.0.0:${port}\n`);
    const sock = createSocket("udp4");
    const replies: string[] = [];
    sock.on("message", (m) => replies.push(m.toString()));
    try {
      // Until the server is bound a datagram finds no socket: send again until an answer comes.
      const answered = await eventually(() => {
        if (replies.length === 0) sock.send("ping over udp", port, "127.0.0.1");
        return replies.length > 0;
      });
      expect(answered).toBe(true);
      expect(replies[0]).toBe("pong ping over udp");
      expect(berth(root, ["logs", "udp"]).stdout).toContain("got ping over udp\n");
    } finally {
      sock.close();
    }
  } finally {
    berth(root, ["rm", "-f", "udp"]);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test("-P publishes every EXPOSE'd port on a random host port", async () => {
  try {
    // A started container: commit of a never-started one has no upper directory yet.
    expect(berth(root, ["run", "--name", "base", "busybox", "true"]).code).toBe(0);
    expect(berth(root, ["commit", "-c", "EXPOSE 80", "base", "exposed:1"]).code).toBe(0);
    const r = berth(root, ["run", "-d", "--name", "pall", "-P", "exposed:1", "httpd", "-f", "-p", "80", "-h", "/var/www"]);
    expect(r.stderr).toBe("");
    const m = /^80\/tcp -> 0\.0\.0\.0:(\d+)\n$/.exec(berth(root, ["port", "pall"]).stdout);
    expect(m).not.toBeNull();
    expect(inspect("pall").HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "" }] });
    expect(await eventually(() => curl(Number(m![1])) === "hello from berth\n")).toBe(true);
  } finally {
    berth(root, ["rm", "-f", "pall", "base"]);
    berth(root, ["rmi", "exposed:1"]);
  }
}, 60_000);

test("malformed and impossible -p are refused at create, nothing made", () => {
  const from = freePort(50000, 55000);
  // Host processes hold both ports of a two-port range.
  const held = [Bun.listen({ hostname: "0.0.0.0", port: from, socket: { data() {} } }), Bun.listen({ hostname: "0.0.0.0", port: from + 1, socket: { data() {} } })];
  try {
    const cases: [string, string][] = [
      ["8000-8002:80-81", 'invalid publish spec "8000-8002:80-81": the host range 8000-8002 has 3 ports but the container range 80-81 has 2'],
      ["0:80", 'invalid publish spec "0:80": host port 0 is out of range: ports are 1-65535'],
      ["8080:0", 'invalid publish spec "8080:0": container port 0 is out of range'],
      ["70000:80", 'invalid publish spec "70000:80": host port 70000 is out of range'],
      ["8080:70000", 'invalid publish spec "8080:70000": container port 70000 is out of range'],
      ["2000-1000:81", 'invalid publish spec "2000-1000:81": host port range 2000-1000 is reversed'],
      ["8080:81-80", 'invalid publish spec "8080:81-80": container port range 81-80 is reversed'],
      ["80/icmp", 'invalid publish spec "80/icmp": unknown protocol "icmp"'],
      [`${from}-${from + 1}:81`, `no free host port left in 0.0.0.0:${from}-${from + 1}/tcp`],
      [`${from}:81`, `Bind for 0.0.0.0:${from}/tcp failed: port is already allocated`],
    ];
    for (const [spec, message] of cases) {
      for (const verb of ["create", "run"]) {
        const r = berth(root, [verb, ...(verb === "run" ? ["-d"] : []), "--name", "bad", "-p", spec, "busybox", "true"]);
        expect(r.stderr).toContain(message);
        expect(r.code).toBe(125);
        expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
      }
    }
  } finally {
    for (const h of held) h.stop(true);
  }
}, 120_000);
