// `berth system service` driven by the real docker CLI (28.x) over its unix socket, and by raw
// HTTP requests for what the CLI does not show (headers, status codes, error bodies).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BERTH, berth } from "../engine/helpers.ts";
import { freeSubnet } from "../network/lab.ts";
import { dockerOk, startTestService, type TestService } from "./helpers.ts";

let s: TestService;
beforeAll(async () => { s = await startTestService(); });
afterAll(async () => { await s?.stop(); });

const ok = dockerOk;

describe("serving", () => {
  test("the socket is 0660", () => {
    expect(statSync(s.socket).mode & 0o777).toBe(0o660);
  });

  test("GET and HEAD /_ping answer OK with docker's headers", async () => {
    for (const method of ["GET", "HEAD"]) {
      const r = await s.api(method, "/_ping");
      expect(r.status).toBe(200);
      expect(r.headers.get("api-version")).toBe("1.44");
      expect(r.headers.get("ostype")).toBe("linux");
      expect(r.headers.get("docker-experimental")).toBe("false");
      expect(r.headers.get("builder-version")).toBe("1");
      expect(r.headers.get("cache-control")).toContain("no-cache");
      expect(await r.text()).toBe(method === "GET" ? "OK" : "");
    }
  });

  test("/version, versioned and not", async () => {
    for (const p of ["/version", "/v1.44/version", "/v1.24/version"]) {
      const v = await (await s.api("GET", p)).json() as Record<string, unknown>;
      expect(v.ApiVersion).toBe("1.44");
      expect(v.MinAPIVersion).toBe("1.24");
      expect(v.Os).toBe("linux");
      expect(Array.isArray(v.Components)).toBe(true);
    }
    expect(ok(s.docker(["version", "--format", "{{.Server.APIVersion}}"])).trim()).toBe("1.44");
  });

  test("a version newer than 1.44 or older than 1.24 is Docker's 400; the docker CLI still negotiates", async () => {
    const cases: [string, number, string][] = [
      ["/v1.50/version", 400, "client version 1.50 is too new. Maximum supported API version is 1.44"],
      ["/v2.0/containers/json", 400, "client version 2.0 is too new. Maximum supported API version is 1.44"],
      // compared number by number, as Docker does: 1.5 is older than 1.44, not newer
      ["/v1.5/version", 400, "client version 1.5 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"],
      ["/v1.23/version", 400, "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"],
    ];
    for (const [path, status, message] of cases) {
      const r = await s.api("GET", path);
      expect(`${path} ${r.status}`).toBe(`${path} ${status}`);
      expect(((await r.json()) as { message: string }).message).toBe(message);
    }
    for (const path of ["/v1.44/version", "/v1.24/version", "/v1.40/_ping"]) expect((await s.api("GET", path)).status).toBe(200);
    // The CLI (API 1.50) pings first and speaks what the service advertises...
    const v = s.docker(["version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe("1.44 1.44");
    expect(ok(s.docker(["run", "--rm", "--network", "none", "busybox", "echo", "negotiated"])).trim()).toBe("negotiated");
    // ...unless pinned to a newer one, which gets Docker's message.
    const pinned = s.docker(["ps"], { env: { DOCKER_API_VERSION: "1.50" } });
    expect(pinned.code).not.toBe(0);
    expect(pinned.stderr).toContain("client version 1.50 is too new. Maximum supported API version is 1.44");
  });

  test("errors are JSON with docker's status codes", async () => {
    const cases: [string, string, unknown, number][] = [
      ["GET", "/nothing/here", undefined, 404],
      ["GET", "/containers/nosuch/json", undefined, 404],
      ["GET", "/images/nosuch/json", undefined, 404],
      ["GET", "/volumes/nosuch", undefined, 404],
      ["GET", "/networks/nosuch", undefined, 404],
      ["POST", "/containers/create", "{not json", 400],
      ["POST", "/containers/create", { Image: 5 }, 400],
      ["POST", "/containers/create", { Image: "busybox", HostConfig: { Devices: [{ PathOnHost: "/dev/null" }] } }, 400],
      ["POST", "/containers/create", { Image: "nosuchimage" }, 404],
      ["GET", "/v1.12/version", undefined, 400],
      ["GET", "/swarm", undefined, 503],
      ["GET", "/services", undefined, 503],
      ["GET", "/plugins", undefined, 501],
      ["PUT", "/info", undefined, 405],
    ];
    for (const [method, path, body, status] of cases) {
      const r = await s.api(method, path, body);
      expect(`${method} ${path} ${r.status}`).toBe(`${method} ${path} ${status}`);
      const j = await r.json() as { message: string };
      expect(typeof j.message).toBe("string");
    }
  });

  test("an oversized body is refused with 413 and makes nothing", async () => {
    const big = JSON.stringify({ Image: "busybox", Env: ["X=" + "a".repeat(5 * 1024 * 1024)] });
    const r = await s.api("POST", "/containers/create", big);
    expect(r.status).toBe(413);
    expect(ok(s.docker(["ps", "-aq"])).trim()).toBe("");
  });

  test("a non-loopback tcp address is refused", () => {
    const r = Bun.spawnSync([BERTH, "--root", s.root, "system", "service", "--host", "tcp://0.0.0.0:23750"], { stderr: "pipe" });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toContain("non-loopback");
  });
});

describe("docker run", () => {
  test("docker run --rm busybox echo hi", () => {
    const r = s.docker(["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
    expect(r).toMatchObject({ code: 0, stdout: "hi\n" });
    expect(ok(s.docker(["ps", "-aq"])).trim()).toBe("");
  });

  test("stdout and stderr stay separate; the exit code comes back", () => {
    const r = s.docker(["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
  });

  test("stdin's end reaches the container: echo hi | docker run -i --rm busybox cat", () => {
    const r = s.docker(["run", "-i", "--rm", "--network", "none", "busybox", "cat"], { stdin: "hi\nthere\n" });
    expect(r).toMatchObject({ code: 0, stdout: "hi\nthere\n" });
  });

  test("a command that is not there: 127, docker's message, no container left", () => {
    const r = s.docker(["run", "--rm", "--network", "none", "busybox", "nosuchcmd"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain("executable file not found");
    expect(r.stderr).not.toContain("Error waiting");
    expect(ok(s.docker(["ps", "-aq"])).trim()).toBe("");
  });

  test("docker start -a attaches before the start; the exit code comes back", () => {
    ok(s.docker(["create", "--name", "startme", "--network", "none", "busybox", "sh", "-c", "echo started-a; exit 3"]));
    const r = s.docker(["start", "-a", "startme"]);
    expect(r).toMatchObject({ code: 3, stdout: "started-a\n" });
    ok(s.docker(["rm", "startme"]));
  });

  test("docker run -it gets a terminal of the client's size", () => {
    const docker = `DOCKER_HOST=unix://${s.socket} DOCKER_CONFIG=${s.dir}/docker-config docker run -it --rm --network none busybox sh`;
    const script = `stty cols 91 rows 27; ${docker}; echo rc=$?`;
    // Typed once the shell is up (script's stdin is the terminal's input).
    const typing = `(sleep 2; printf 'stty size; exit 6\\n'; sleep 2) | script -qfec '${script}' /dev/null`;
    const r = Bun.spawnSync(["sh", "-c", typing], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    const out = r.stdout.toString();
    expect(out).toContain("27 91");
    expect(out).toContain("rc=6");
  });
});

describe("terminals (tmux)", () => {
  /** A tmux of our own (private socket), running one command in a window of the given size. */
  async function tmux(cmd: string, fn: (t: { keys: (k: string) => void; screen: () => string; resize: (w: number, h: number) => void; until: (re: RegExp) => Promise<string> }) => Promise<void>) {
    const sock = join(s.dir, `tmux-${Math.random().toString(36).slice(2)}`);
    const env = { ...process.env, DOCKER_HOST: `unix://${s.socket}`, DOCKER_CONFIG: join(s.dir, "docker-config") };
    const t = (args: string[]) => Bun.spawnSync(["tmux", "-S", sock, ...args], { env, stdout: "pipe" }).stdout.toString();
    t(["new-session", "-d", "-x", "100", "-y", "30", "sh", "-c", `${cmd}; echo rc=$?; sleep 30`]);
    const screen = () => t(["capture-pane", "-p", "-J"]);
    try {
      await fn({
        keys: (k) => { t(["send-keys", "-l", k]); t(["send-keys", "Enter"]); },
        screen,
        resize: (w, h) => { t(["resize-window", "-x", String(w), "-y", String(h)]); },
        until: async (re) => {
          for (let i = 0; i < 300; i++) {
            const sc = screen();
            if (re.test(sc)) return sc;
            await Bun.sleep(100);
          }
          throw new Error(`never saw ${re} on the screen:\n${screen()}`);
        },
      });
    } finally {
      t(["kill-server"]);
    }
  }

  test("docker run -it: a real pty, and resizing the window changes stty size", async () => {
    await tmux("docker run -it --rm --network none busybox sh", async (t) => {
      await t.until(/# $/m);
      t.keys("stty size");
      await t.until(/^30 100$/m);
      t.resize(120, 40);
      t.keys("stty size");
      await t.until(/^40 120$/m);
      t.keys("exit 9");
      await t.until(/rc=9/);
    });
  });

  test("docker exec -it: the same for an exec", async () => {
    ok(s.docker(["run", "-d", "--network", "none", "--name", "ttyhost", "busybox", "sleep", "1000"]));
    await tmux("docker exec -it ttyhost sh", async (t) => {
      await t.until(/# $/m);
      t.keys("stty size; tty");
      await t.until(/^30 100$/m);
      expect(t.screen()).toContain("/dev/pts/");
      t.resize(110, 35);
      t.keys("stty size");
      await t.until(/^35 110$/m);
      t.keys("exit 4");
      await t.until(/rc=4/);
    });
    ok(s.docker(["rm", "-f", "ttyhost"]));
  });
});

describe("a detached container", () => {
  test("ps, logs, inspect, exec, top, stats, cp, pause, rename, restart, stop, kill, rm", async () => {
    const id = ok(s.docker(["run", "-d", "--network", "none", "--name", "web", "busybox", "sh", "-c", "echo started; echo oops >&2; exec sleep 1000"])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(s.docker(["ps", "--format", "{{.Names}} {{.State}}"]))).toContain("web running");
    await Bun.sleep(300);
    const logs = s.docker(["logs", "web"]);
    expect(logs.stdout).toBe("started\n");
    expect(logs.stderr).toBe("oops\n");

    const info = JSON.parse(ok(s.docker(["inspect", "web"])))[0];
    expect(info.Id).toBe(id);
    expect(info.Image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(info.Config.Image).toBe("busybox");
    expect(info.State).toMatchObject({ Status: "running", Running: true });
    expect(info.HostConfig.NetworkMode).toBe("none");
    expect(info.GraphDriver.Name).toBe("overlay2");
    expect(info.NetworkSettings.Networks.none).toBeDefined();

    expect(ok(s.docker(["exec", "web", "sh", "-c", "echo in-exec; echo e >&2"]))).toBe("in-exec\n");
    expect(s.docker(["exec", "web", "sh", "-c", "exit 5"]).code).toBe(5);
    expect(ok(s.docker(["exec", "-i", "web", "cat"], { stdin: "piped\n" }))).toBe("piped\n");
    expect(ok(s.docker(["top", "web"]))).toContain("sleep 1000");
    expect(ok(s.docker(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]))).toContain("web 1");

    const src = join(s.dir, "in.txt");
    writeFileSync(src, "copied in\n");
    ok(s.docker(["cp", src, "web:/tmp/in.txt"]));
    expect(ok(s.docker(["exec", "web", "cat", "/tmp/in.txt"]))).toBe("copied in\n");
    mkdirSync(join(s.dir, "out"));
    ok(s.docker(["cp", "web:/tmp/in.txt", join(s.dir, "out", "back.txt")]));
    expect(readFileSync(join(s.dir, "out", "back.txt"), "utf8")).toBe("copied in\n");
    const missing = s.docker(["cp", "web:/no/such", join(s.dir, "out")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("Could not find the file /no/such");

    ok(s.docker(["pause", "web"]));
    expect(ok(s.docker(["inspect", "-f", "{{.State.Status}}", "web"])).trim()).toBe("paused");
    ok(s.docker(["unpause", "web"]));
    ok(s.docker(["rename", "web", "web2"]));
    expect(ok(s.docker(["ps", "--format", "{{.Names}}"])).trim()).toBe("web2");
    ok(s.docker(["restart", "-t", "1", "web2"]));
    expect(ok(s.docker(["inspect", "-f", "{{.State.Running}}", "web2"])).trim()).toBe("true");

    // A running container: removing it without force is a conflict (409), its name is taken.
    const rm = s.docker(["rm", "web2"]);
    expect(rm.code).not.toBe(0);
    expect((await s.api("DELETE", "/containers/web2")).status).toBe(409);
    expect((await s.api("POST", "/containers/create?name=web2", { Image: "busybox" })).status).toBe(409);

    ok(s.docker(["kill", "web2"]));
    expect(ok(s.docker(["wait", "web2"])).trim()).toBe("137");
    ok(s.docker(["start", "web2"]));
    ok(s.docker(["stop", "-t", "1", "web2"]));
    expect(ok(s.docker(["ps", "-a", "--format", "{{.Names}} {{.State}}"]))).toContain("web2 exited");
    ok(s.docker(["rm", "web2"]));
    expect(ok(s.docker(["ps", "-aq"])).trim()).toBe("");
  });

  test("an archive that climbs out (a link to a host directory, ../) is a 400 and writes nothing", async () => {
    ok(s.docker(["run", "-d", "--network", "none", "--name", "target", "busybox", "sleep", "1000"]));
    const hostDir = join(s.dir, "hostdir");
    mkdirSync(hostDir);
    const tar = join(s.dir, "evil.tar");
    const py = `import tarfile, io
t = tarfile.open(${JSON.stringify(tar)}, "w")
l = tarfile.TarInfo("link"); l.type = tarfile.SYMTYPE; l.linkname = ${JSON.stringify(hostDir)}; t.addfile(l)
for name in ["link/pwned", "../../escape"]:
    f = tarfile.TarInfo(name); f.size = 6; t.addfile(f, io.BytesIO(b"pwned\\n"))
t.close()`;
    expect(Bun.spawnSync(["python3", "-c", py]).exitCode).toBe(0);
    const r = await s.api("PUT", "/containers/target/archive?path=/tmp", new Uint8Array(await Bun.file(tar).arrayBuffer()), { "Content-Type": "application/x-tar" });
    expect(r.status).toBe(400);
    expect((await r.json() as { message: string }).message).toContain("'..'");
    expect(readdirSync(hostDir)).toEqual([]);
    expect(ok(s.docker(["exec", "target", "ls", "-A", "/tmp"]))).toBe("");
    ok(s.docker(["rm", "-f", "target"]));
  });

  test("docker logs --tail, -t, --since, --until", () => {
    ok(s.docker(["run", "--network", "none", "--name", "lines", "busybox", "sh", "-c", "echo a; echo b; echo c"]));
    expect(ok(s.docker(["logs", "--tail", "2", "lines"]))).toBe("b\nc\n");
    expect(ok(s.docker(["logs", "-t", "--tail", "1", "lines"]))).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z c\n$/);
    expect(ok(s.docker(["logs", "--since", "1h", "lines"]))).toBe("a\nb\nc\n");
    expect(ok(s.docker(["logs", "--until", "2000-01-01T00:00:00Z", "lines"]))).toBe("");
    expect(s.docker(["logs", "--tail", "x", "lines"]).code).not.toBe(0);
    ok(s.docker(["rm", "lines"]));
  });

  test("docker logs -f follows until the container exits", () => {
    ok(s.docker(["run", "-d", "--network", "none", "--name", "counter", "busybox", "sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.2; done"]));
    expect(ok(s.docker(["logs", "-f", "counter"]))).toBe("n1\nn2\nn3\n");
    ok(s.docker(["rm", "counter"]));
  });
});

describe("under load", () => {
  test("a client that attaches and never reads holds up nobody; 50 runs and 50 ps at once all succeed", async () => {
    ok(s.docker(["run", "-d", "--network", "none", "--name", "noisy", "busybox", "yes"]));
    const { connect } = await import("node:net");
    const stuck = connect(s.socket);
    await new Promise<void>((r) => stuck.once("connect", () => r()));
    stuck.write("POST /v1.44/containers/noisy/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n");
    stuck.pause(); // never reads: the service's writes to it back up
    const run = (args: string[]) => {
      const p = Bun.spawn(["docker", ...args], { env: { ...process.env, DOCKER_HOST: `unix://${s.socket}`, DOCKER_CONFIG: join(s.dir, "docker-config") }, stdout: "pipe", stderr: "pipe" });
      return Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    };
    const runs = Array.from({ length: 50 }, (_, i) => run(["run", "--rm", "--network", "none", "busybox", "echo", `r${i}`]));
    const ps = Array.from({ length: 50 }, () => run(["ps", "-q"]));
    const results = await Promise.all(runs);
    expect(results.map(([code, out]) => `${code} ${out.trim()}`)).toEqual(Array.from({ length: 50 }, (_, i) => `0 r${i}`));
    expect((await Promise.all(ps)).map(([code]) => code)).toEqual(Array(50).fill(0));
    stuck.destroy();
    // The attach's client went away: the container is as it was.
    await Bun.sleep(200);
    expect(ok(s.docker(["inspect", "-f", "{{.State.Status}}", "noisy"])).trim()).toBe("running");
    ok(s.docker(["rm", "-f", "noisy"]));
    expect(ok(s.docker(["ps", "-aq"])).trim()).toBe("");
  }, 180_000);

  test("docker kill, then docker wait: 137, also while the monitor still drains for a stalled attach client", async () => {
    ok(s.docker(["run", "-d", "--network", "none", "--name", "drained", "busybox", "yes"]));
    const id = ok(s.docker(["inspect", "-f", "{{.Id}}", "drained"])).trim();
    // A `berth attach` whose output goes to a FIFO nobody reads: the monitor waits for it (up to
    // 5 s) after the init died, before it writes the exit record.
    const fifo = join(s.dir, "drained.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const sink = openSync(fifo, "r+");
    const client = Bun.spawn([BERTH, "--root", s.root, "attach", "--no-stdin", "drained"], { env: { ...process.env, ...s.env }, stdin: "ignore", stdout: sink, stderr: "ignore" });
    try {
      const log = join(s.root, "containers", id, "container.log");
      let size = -1;
      for (let i = 0; i < 100 && statSync(log).size !== size; i++) { size = statSync(log).size; await Bun.sleep(300); }
      ok(s.docker(["kill", "drained"]));
      expect(ok(s.docker(["wait", "drained"])).trim()).toBe("137");
      expect(ok(s.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} [{{.State.Error}}]", "drained"])).trim()).toBe("exited 137 []");
    } finally {
      client.kill(9);
      await client.exited;
      closeSync(sink);
      ok(s.docker(["rm", "-f", "drained"]));
    }
  });
});

describe("prune and partial uploads", () => {
  test("container prune: label and until filters", () => {
    ok(s.docker(["create", "--network", "none", "--name", "old1", "--label", "keep=no", "busybox"]));
    ok(s.docker(["create", "--network", "none", "--name", "old2", "--label", "keep=yes", "busybox"]));
    // until=1h: created more than an hour ago; nothing is
    expect(ok(s.docker(["container", "prune", "-f", "--filter", "until=1h"]))).not.toContain("Deleted");
    expect(ok(s.docker(["container", "prune", "-f", "--filter", "label=keep=no"]))).toContain("Deleted Containers");
    expect(ok(s.docker(["ps", "-a", "--format", "{{.Names}}"])).trim()).toBe("old2");
    ok(s.docker(["container", "prune", "-f"]));
    expect(ok(s.docker(["ps", "-aq"])).trim()).toBe("");
  });

  test("a load whose client goes away mid-upload loads nothing", async () => {
    const tar = join(s.dir, "partial.tar");
    ok(s.docker(["save", "-o", tar, "busybox"]));
    const whole = new Uint8Array(await Bun.file(tar).arrayBuffer());
    const before = ok(s.docker(["images", "-q"]));
    const { connect } = await import("node:net");
    const c = connect(s.socket);
    await new Promise<void>((r) => c.once("connect", () => r()));
    c.write(`POST /v1.44/images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: ${whole.length}\r\n\r\n`);
    c.write(whole.subarray(0, Math.floor(whole.length / 2)));
    await Bun.sleep(200);
    c.destroy();
    await Bun.sleep(300);
    expect(ok(s.docker(["images", "-q"]))).toBe(before);
    // The upload's temporary file went with it.
    const leftovers = () => readdirSync(tmpdir()).filter((f) => f.startsWith("berth-api-load-"));
    for (let i = 0; i < 100 && leftovers().length; i++) await Bun.sleep(50);
    expect(leftovers()).toEqual([]);
  });
});

describe("published ports", () => {
  test("docker run -d -p PORT:80 busybox httpd answers on the host port", async () => {
    const port = 20000 + (process.pid % 20000);
    ok(s.docker(["run", "-d", "-p", `127.0.0.1:${port}:80`, "--name", "httpd", "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www"]));
    let body = "";
    for (let i = 0; i < 50 && !body; i++) {
      try { body = await (await fetch(`http://127.0.0.1:${port}/`)).text(); } catch { await Bun.sleep(100); }
    }
    expect(body).toBe("hello from berth\n");
    expect(ok(s.docker(["port", "httpd"]))).toContain(`127.0.0.1:${port}`);
    const info = JSON.parse(ok(s.docker(["inspect", "httpd"])))[0];
    expect(info.NetworkSettings.IPAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(info.NetworkSettings.Networks.bridge.IPAddress).toBe(info.NetworkSettings.IPAddress);
    expect(info.NetworkSettings.Ports["80/tcp"][0].HostPort).toBe(String(port));
    ok(s.docker(["rm", "-f", "httpd"]));
  });
});

describe("images", () => {
  test("images, inspect, tag, rmi, save | load, prune", () => {
    expect(ok(s.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])).trim()).toBe("busybox:latest");
    const id = ok(s.docker(["image", "inspect", "-f", "{{.Id}}", "busybox"])).trim();
    expect(id).toMatch(/^sha256:/);
    ok(s.docker(["tag", "busybox", "mybox:1"]));
    expect(ok(s.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]))).toContain("mybox:1");
    const tar = join(s.dir, "img.tar");
    ok(s.docker(["save", "-o", tar, "mybox:1"]));
    expect(ok(s.docker(["rmi", "mybox:1"]))).toContain("Untagged: mybox:1");
    ok(s.docker(["load", "-i", tar]));
    expect(ok(s.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]))).toContain("mybox:1");
    ok(s.docker(["rmi", "mybox:1"]));
    ok(s.docker(["image", "prune", "-f"]));
    expect(s.docker(["rmi", "nosuch"]).stderr).toContain("No such image");
  });
});

describe("commit, export, import", () => {
  test("docker commit and docker export | docker import make images that run", () => {
    ok(s.docker(["run", "-d", "--network", "none", "--name", "src", "busybox", "sh", "-c", "echo made > /marker; exec sleep 1000"]));
    for (let i = 0; i < 100 && s.docker(["exec", "src", "test", "-f", "/marker"]).code !== 0; i++) Bun.sleepSync(50);
    ok(s.docker(["commit", "-c", 'CMD ["cat", "/marker"]', "src", "snap:1"]));
    expect(ok(s.docker(["run", "--rm", "--network", "none", "snap:1"]))).toBe("made\n");
    const tar = join(s.dir, "src.tar");
    ok(s.docker(["export", "-o", tar, "src"]));
    ok(s.docker(["import", "-c", 'CMD ["cat", "/marker"]', tar, "imp:1"]));
    expect(ok(s.docker(["run", "--rm", "--network", "none", "imp:1"]))).toBe("made\n");
    ok(s.docker(["rm", "-f", "src"]));
    ok(s.docker(["rmi", "snap:1", "imp:1"]));
  });
});

describe("volumes and networks", () => {
  test("volume create, ls, inspect, use, rm", () => {
    ok(s.docker(["volume", "create", "data1"]));
    expect(ok(s.docker(["volume", "ls", "--format", "{{.Name}}"]))).toContain("data1");
    expect(JSON.parse(ok(s.docker(["volume", "inspect", "data1"])))[0].Driver).toBe("local");
    expect(ok(s.docker(["run", "--rm", "--network", "none", "-v", "data1:/d", "busybox", "sh", "-c", "echo v > /d/f; cat /d/f"]))).toBe("v\n");
    ok(s.docker(["volume", "rm", "data1"]));
    expect(s.docker(["volume", "inspect", "data1"]).code).not.toBe(0);
  });

  test("network create, ls, connect, inspect, disconnect, rm", () => {
    ok(s.docker(["network", "create", "--label", "team=web", "--label", "tier", "apinet"]));
    expect(ok(s.docker(["network", "ls", "--format", "{{.Name}}"]))).toContain("apinet");
    ok(s.docker(["run", "-d", "--name", "member", "busybox", "sleep", "1000"]));
    ok(s.docker(["network", "connect", "--alias", "m1", "apinet", "member"]));
    const net = JSON.parse(ok(s.docker(["network", "inspect", "apinet"])))[0];
    expect(Object.values(net.Containers as Record<string, { Name: string }>).map((c) => c.Name)).toEqual(["member"]);
    const nets = JSON.parse(ok(s.docker(["inspect", "-f", "{{json .NetworkSettings.Networks}}", "member"])));
    expect(nets.apinet.Aliases).toEqual(["m1"]);
    // docker's record, as `berth network inspect` prints it (one builder for both).
    const memberId = ok(s.docker(["inspect", "-f", "{{.Id}}", "member"])).trim();
    expect(net).toMatchObject({ Name: "apinet", Scope: "local", Driver: "bridge", EnableIPv6: false, Internal: false, Attachable: false, Ingress: false, ConfigOnly: false, ConfigFrom: { Network: "" } });
    expect(net.Id).toMatch(/^[0-9a-f]{64}$/);
    expect(net.IPAM.Driver).toBe("default");
    expect(net.IPAM.Config[0].Subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    expect(net.Containers[memberId]).toEqual({ Name: "member", EndpointID: nets.apinet.EndpointID, MacAddress: nets.apinet.MacAddress, IPv4Address: `${nets.apinet.IPAddress}/${nets.apinet.IPPrefixLen}`, IPv6Address: "" });
    expect(nets.apinet.NetworkID).toBe(net.Id);
    const cli = JSON.parse(berth(s.root, ["network", "inspect", "apinet"], { env: s.env }).stdout)[0];
    expect(cli).toEqual(net);
    // labels live in the network store, not in the service: another process sees them, filters match them
    expect(net.Labels).toEqual({ team: "web", tier: "" });
    expect(ok(s.docker(["network", "ls", "--format", "{{.Name}}", "--filter", "label=team=web"])).trim()).toBe("apinet");
    expect(ok(s.docker(["network", "ls", "--format", "{{.Name}}", "--filter", "label=team=db"])).trim()).toBe("");
    expect(ok(s.docker(["network", "ls", "--format", "{{.Name}}", "--filter", "type=builtin"])).trim().split("\n").sort()).toEqual(["bridge", "host", "none"]);
    // Found by a prefix of its ID; docker's templates over it; ls with docker's columns.
    // (docker's CLI reads Created as a time: RFC3339Nano it parses.)
    expect(ok(s.docker(["network", "inspect", "-f", "{{.Name}} {{.Created.Unix}}", net.Id.slice(0, 12)])).trim()).toBe(`apinet ${Math.floor(Date.parse(net.Created) / 1000)}`);
    const ls = ok(s.docker(["network", "ls"])).split("\n");
    expect(ls[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    expect(ls.some((l) => new RegExp(`^${net.Id.slice(0, 12)}\\s+apinet\\s+bridge\\s+local$`).test(l))).toBe(true);
    expect(ls.some((l) => /\shost\s+host\s+local$/.test(l)) && ls.some((l) => /\snone\s+null\s+local$/.test(l))).toBe(true);
    expect(ok(s.docker(["network", "ls", "-q", "--no-trunc", "--filter", "name=apinet"])).trim()).toBe(net.Id);
    expect(ok(s.docker(["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "bridge", "host", "none"])).trim()).toBe("bridge bridge\nhost host\nnone null");
    ok(s.docker(["network", "disconnect", "apinet", "member"]));
    ok(s.docker(["rm", "-f", "member"]));
    ok(s.docker(["network", "rm", "apinet"]));
    expect(ok(s.docker(["network", "ls", "--format", "{{.Name}}"]))).not.toContain("apinet");
  });

  test("docker run --ip: the fixed address the CLI sends (EndpointsConfig IPAMConfig) is the container's", () => {
    const sub = freeSubnet();
    const addr = sub.replace(/0\/24$/, "77");
    ok(s.docker(["network", "create", "--subnet", sub, "ipnet"]));
    try {
      ok(s.docker(["run", "-d", "--name", "ipmember", "--network", "ipnet", "--ip", addr, "busybox", "sleep", "1000"]));
      expect(ok(s.docker(["inspect", "-f", "{{(index .NetworkSettings.Networks \"ipnet\").IPAddress}} {{(index .NetworkSettings.Networks \"ipnet\").IPAMConfig.IPv4Address}}", "ipmember"])).trim()).toBe(`${addr} ${addr}`);
      expect(ok(s.docker(["exec", "ipmember", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"])).trim()).toBe(`${addr}/24`);
    } finally {
      s.docker(["rm", "-f", "ipmember"]);
      s.docker(["network", "rm", "ipnet"]);
    }
  });
});

describe("docker-compose 1.29", () => {
  test("up -d, ps, logs, exec, down on a two-service file; services find each other by name", async () => {
    const proj = join(s.dir, "proj");
    mkdirSync(proj);
    const port = 40000 + (process.pid % 20000);
    writeFileSync(join(proj, "docker-compose.yml"), `version: "3"
services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /var/www
    ports: ["127.0.0.1:${port}:80"]
  client:
    image: busybox
    command: sh -c "while true; do wget -qO- http://web/; sleep 0.5; done"
    depends_on: [web]
`);
    const env = { ...process.env, DOCKER_HOST: `unix://${s.socket}`, DOCKER_CONFIG: join(s.dir, "docker-config") };
    const compose = (args: string[]) => {
      const r = Bun.spawnSync(["docker-compose", "-p", "apiproj", ...args], { cwd: proj, env, stdout: "pipe", stderr: "pipe", timeout: 120_000 });
      return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    };
    try {
      expect(compose(["up", "-d"]).code).toBe(0);
      const ps = compose(["ps"]).stdout;
      expect(ps.split("\n").filter((l) => l.startsWith("apiproj_")).length).toBe(2);
      let logs = "";
      for (let i = 0; i < 100 && !logs.includes("hello from berth"); i++) {
        logs = compose(["logs", "client"]).stdout;
        if (!logs.includes("hello from berth")) await Bun.sleep(100);
      }
      expect(logs).toContain("hello from berth");
      expect(compose(["exec", "-T", "web", "echo", "exec-ok"]).stdout).toBe("exec-ok\n");
    } finally {
      expect(compose(["down"]).code).toBe(0);
    }
    expect(ok(s.docker(["ps", "-aq", "--filter", "label=com.docker.compose.project=apiproj"])).trim()).toBe("");
  });
});

describe("system", () => {
  test("info and system df", () => {
    const info = JSON.parse(ok(s.docker(["info", "--format", "{{json .}}"])));
    expect(info.Driver).toBe("overlay2");
    expect(info.Images).toBe(1);
    expect(info.NCPU).toBeGreaterThan(0);
    expect(ok(s.docker(["system", "df"]))).toContain("Images");
  });

  test("docker events: a run's create, attach, start, die, destroy, replayed with since/until", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    ok(s.docker(["run", "--rm", "--network", "none", "--name", "evented", "busybox", "true"]));
    const until = Math.floor(Date.now() / 1000) + 1;
    await Bun.sleep(1100);
    const out = ok(s.docker(["events", "--since", String(since), "--until", String(until), "--filter", "container=evented", "--format", "{{.Action}}"]));
    expect(out.split("\n").filter(Boolean)).toEqual(["create", "attach", "start", "die", "destroy"]);
  });

  test("docker events streams what plain berth commands do", async () => {
    const events = Bun.spawn(["docker", "events", "--filter", "container=fromcli", "--format", "{{.Action}} {{.Actor.Attributes.name}}"], {
      env: { ...process.env, DOCKER_HOST: `unix://${s.socket}`, DOCKER_CONFIG: join(s.dir, "docker-config") }, stdout: "pipe",
    });
    // The stream's headers come at once: once `docker events` is connected, it sees what follows.
    await Bun.sleep(500);
    const r = berth(s.root, ["run", "--rm", "--network", "none", "--name", "fromcli", "busybox", "true"], { env: s.env });
    expect(r.code).toBe(0);
    let text = "";
    const reader = events.stdout.getReader();
    // Until the destroy line is whole (the CLI writes a template's pieces one by one).
    while (!/destroy.*\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    events.kill();
    expect(text.split("\n").filter(Boolean)).toEqual(["create fromcli", "start fromcli", "die fromcli", "destroy fromcli"]);
  });
});
