// dockerode (the Node SDK) against the service: its calls and the shapes it hands its users.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
let docker: Docker;
beforeAll(async () => {
  s = await startTestService();
  docker = new Docker({ socketPath: s.socket });
});
afterAll(async () => { await s?.stop(); });

/** A stream's text, once it ends. */
function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (d: Buffer) => { text += d.toString(); });
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
  });
}

test("ping and version", async () => {
  expect(String(await docker.ping())).toBe("OK");
  const v = await docker.version();
  expect(v.ApiVersion).toBe("1.44");
  expect(v.Os).toBe("linux");
});

test("create, attach, start, wait, logs, inspect, remove", async () => {
  const c = await docker.createContainer({ Image: "busybox", Cmd: ["sh", "-c", "echo out; echo err >&2; exit 4"], HostConfig: { NetworkMode: "none" }, AttachStdout: true, AttachStderr: true });
  const stream = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
  const out = new PassThrough(), err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  const outText = collect(out), errText = collect(err);
  stream.on("end", () => { out.end(); err.end(); });
  const waited = c.wait({ condition: "next-exit" });
  await c.start();
  expect((await waited).StatusCode).toBe(4);
  expect(await outText).toBe("out\n");
  expect(await errText).toBe("err\n");
  const info = await c.inspect();
  expect(info.State.ExitCode).toBe(4);
  expect(info.Image).toMatch(/^sha256:/);
  expect(info.Config.Image).toBe("busybox");
  const logs = await c.logs({ stdout: true, stderr: true }) as unknown as Buffer;
  expect(logs.includes(Buffer.from("out\n"))).toBe(true);
  await c.remove();
  await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
});

test("exec with a demultiplexed stream, then its inspect", async () => {
  const c = await docker.createContainer({ Image: "busybox", Cmd: ["sleep", "1000"], HostConfig: { NetworkMode: "none" } });
  await c.start();
  const exec = await c.exec({ Cmd: ["sh", "-c", "echo from-exec; exit 3"], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  docker.modem.demuxStream(stream, out, new PassThrough());
  stream.on("end", () => out.end());
  expect(await collect(out)).toBe("from-exec\n");
  let info = await exec.inspect();
  for (let i = 0; i < 100 && info.Running; i++) { await Bun.sleep(50); info = await exec.inspect(); }
  expect(info.ExitCode).toBe(3);
  const list = await docker.listContainers();
  expect(list.map((x) => x.Id)).toContain(c.id);
  const stats = await c.stats({ stream: false });
  expect(stats.cpu_stats.online_cpus).toBeGreaterThan(0);
  await c.remove({ force: true });
});

test("images, volumes, networks", async () => {
  const images = await docker.listImages();
  expect(images[0]!.RepoTags).toEqual(["busybox:latest"]);
  expect((await docker.getImage("busybox").inspect()).Id).toBe(images[0]!.Id);
  await docker.createVolume({ Name: "dv1", Labels: { a: "b" } });
  expect((await docker.listVolumes()).Volumes.map((v) => v.Name)).toContain("dv1");
  await docker.getVolume("dv1").remove();
  const net = await docker.createNetwork({ Name: "dnet" });
  expect((await net.inspect()).Name).toBe("dnet");
  expect((await docker.listNetworks()).map((n) => n.Name)).toContain("dnet");
  await net.remove();
});

test("a failing call rejects with Docker's status and message", async () => {
  await expect(docker.getContainer("nosuch").inspect()).rejects.toMatchObject({ statusCode: 404 });
  await expect(docker.createContainer({ Image: "busybox", name: "dup", HostConfig: { NetworkMode: "none" } }).then(() => docker.createContainer({ Image: "busybox", name: "dup" }))).rejects.toMatchObject({ statusCode: 409 });
  await docker.getContainer("dup").remove();
});
