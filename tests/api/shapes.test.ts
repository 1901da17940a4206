// Response shapes the SDKs (dockerode, docker-py) read, checked over raw HTTP: the list and
// inspect objects, stats with precpu_stats and online_cpus, exec inspect, multiplexed log frames,
// a non-hijacked attach, and the 4xx of bad parameters.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
let id = "";
beforeAll(async () => {
  s = await startTestService();
  const r = await s.api("POST", "/v1.44/containers/create?name=shapes", {
    Image: "busybox", Cmd: ["sh", "-c", "echo out; echo err >&2; exec sleep 1000"], Labels: { "com.example": "yes" },
    HostConfig: { NetworkMode: "none", Memory: 64 * 1024 * 1024 },
  });
  expect(r.status).toBe(201);
  const body = await r.json() as { Id: string; Warnings: string[] };
  id = body.Id;
  expect(body.Warnings).toEqual([]);
  expect((await s.api("POST", `/v1.44/containers/${id}/start`)).status).toBe(204);
  expect((await s.api("POST", `/v1.44/containers/${id}/start`)).status).toBe(304);
});
afterAll(async () => { await s?.stop(); });

/** Docker's 8-byte frames: [stream, 0, 0, 0, len BE32] payload. */
function frames(buf: Uint8Array): { stream: number; text: string }[] {
  const out: { stream: number; text: string }[] = [];
  const b = Buffer.from(buf);
  for (let i = 0; i + 8 <= b.length;) {
    const len = b.readUInt32BE(i + 4);
    out.push({ stream: b[i]!, text: b.subarray(i + 8, i + 8 + len).toString() });
    i += 8 + len;
  }
  return out;
}

describe("shapes", () => {
  test("GET /containers/json", async () => {
    const list = await (await s.api("GET", `/v1.44/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: ["com.example=yes"] }))}`)).json() as Record<string, unknown>[];
    expect(list.length).toBe(1);
    const c = list[0]!;
    expect(c).toMatchObject({ Id: id, Names: ["/shapes"], Image: "busybox", State: "running", Labels: { "com.example": "yes" }, HostConfig: { NetworkMode: "none" } });
    expect(c.ImageID).toMatch(/^sha256:/);
    expect(typeof c.Created).toBe("number");
    expect(String(c.Status)).toMatch(/^Up /);
    expect(Array.isArray(c.Ports)).toBe(true);
    expect(Array.isArray(c.Mounts)).toBe(true);
    const none = await (await s.api("GET", `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: ["com.example=yes", "other"] }))}`)).json() as unknown[];
    expect(none).toEqual([]); // every label must match
    expect((await s.api("GET", "/containers/json?filters=notjson")).status).toBe(400);
    expect((await s.api("GET", `/containers/json?filters=${encodeURIComponent(JSON.stringify({ bogus: ["x"] }))}`)).status).toBe(400);
  });

  test("GET /containers/{id}/json", async () => {
    const c = await (await s.api("GET", `/v1.44/containers/shapes/json?size=1`)).json() as Record<string, Record<string, unknown>>;
    expect(c.Id as unknown).toBe(id);
    expect(c.Name as unknown).toBe("/shapes");
    expect(c.Image as unknown).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(c.Config).toMatchObject({ Image: "busybox", Labels: { "com.example": "yes" } });
    expect(c.State).toMatchObject({ Status: "running", Running: true, Paused: false, ExitCode: 0 });
    expect(c.HostConfig).toMatchObject({ NetworkMode: "none", Memory: 64 * 1024 * 1024 });
    expect(c.GraphDriver).toMatchObject({ Name: "overlay2" });
    expect(Object.keys(c.GraphDriver!.Data as object).sort()).toEqual(["LowerDir", "MergedDir", "UpperDir", "WorkDir"]);
    expect(typeof c.SizeRw).toBe("number");
    expect(c.NetworkSettings!.Networks).toBeDefined();
  });

  test("GET /containers/{id}/stats?stream=false", async () => {
    const st = await (await s.api("GET", `/v1.44/containers/${id}/stats?stream=false`)).json() as Record<string, Record<string, unknown>>;
    expect(st.cpu_stats!.online_cpus as number).toBeGreaterThan(0);
    expect(st.precpu_stats!.system_cpu_usage as number).toBeGreaterThan(0);
    expect((st.cpu_stats!.cpu_usage as Record<string, number>).total_usage).toBeGreaterThan(0);
    expect(st.memory_stats!.usage as number).toBeGreaterThan(0);
    expect(st.memory_stats!.limit as number).toBe(64 * 1024 * 1024);
    expect(st.pids_stats!.current as number).toBe(1);
    expect(st.networks).toBeDefined();
    expect(st.blkio_stats).toBeDefined();
    const one = await (await s.api("GET", `/v1.44/containers/${id}/stats?stream=false&one-shot=true`)).json() as Record<string, unknown>;
    expect(one.name).toBe("/shapes");
  });

  test("logs come in multiplexed frames, stdout 1 and stderr 2", async () => {
    const r = await s.api("GET", `/v1.44/containers/${id}/logs?stdout=1&stderr=1`);
    expect(r.headers.get("content-type")).toBe("application/vnd.docker.multiplexed-stream");
    const f = frames(new Uint8Array(await r.arrayBuffer()));
    expect(f).toContainEqual({ stream: 1, text: "out\n" });
    expect(f).toContainEqual({ stream: 2, text: "err\n" });
    expect((await s.api("GET", `/containers/${id}/logs`)).status).toBe(400); // no stream chosen
  });

  test("attach without Upgrade: a 200 stream of the logs", async () => {
    const r = await s.api("POST", `/v1.44/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`);
    expect(r.status).toBe(200);
    expect(frames(new Uint8Array(await r.arrayBuffer()))).toContainEqual({ stream: 1, text: "out\n" });
  });

  test("exec create, start detached, inspect", async () => {
    const c = await s.api("POST", `/v1.44/containers/${id}/exec`, { Cmd: ["sh", "-c", "exit 7"], AttachStdout: true });
    expect(c.status).toBe(201);
    const { Id } = await c.json() as { Id: string };
    expect((await s.api("POST", `/v1.44/exec/${Id}/start`, { Detach: true })).status).toBe(200);
    let info: Record<string, unknown> = {};
    for (let i = 0; i < 200; i++) {
      info = await (await s.api("GET", `/v1.44/exec/${Id}/json`)).json() as Record<string, unknown>;
      if (!info.Running) break;
      await Bun.sleep(50);
    }
    expect(info).toMatchObject({ ID: Id, Running: false, ExitCode: 7, ContainerID: id });
    expect((await s.api("GET", "/exec/nosuch/json")).status).toBe(404);
    expect((await s.api("POST", `/containers/${id}/exec`, { Cmd: [] })).status).toBe(400);
  });

  test("GET /images/json and /images/{name}/json", async () => {
    const list = await (await s.api("GET", "/v1.44/images/json")).json() as Record<string, unknown>[];
    expect(list[0]).toMatchObject({ RepoTags: ["busybox:latest"], Containers: 1 });
    expect(list[0]!.Id).toMatch(/^sha256:/);
    const img = await (await s.api("GET", "/v1.44/images/busybox/json")).json() as Record<string, unknown>;
    expect(img.Id).toBe(list[0]!.Id);
    expect(img.RootFS).toMatchObject({ Type: "layers" });
  });

  test("create names what it does not support: refused when it changes what runs, else in Warnings", async () => {
    const refused = await s.api("POST", "/containers/create", { Image: "busybox", HostConfig: { Ulimits: [{ Name: "nofile", Soft: 1, Hard: 1 }] } });
    expect(refused.status).toBe(400);
    expect((await refused.json() as { message: string }).message).toContain("HostConfig.Ulimits");
    const warned = await s.api("POST", "/containers/create?name=warned", { Image: "busybox", HostConfig: { NetworkMode: "none", FancyNewThing: 3 }, MacAddress: "02:00:00:00:00:01" });
    expect(warned.status).toBe(201);
    const w = (await warned.json() as { Warnings: string[] }).Warnings;
    expect(w).toEqual(["HostConfig.FancyNewThing is not supported by berth; ignored", "MacAddress is not supported by berth; ignored"]);
    expect((await s.api("DELETE", "/containers/warned")).status).toBe(204);
  });

  test("wait: not-running answers at once for a created container (Docker's rule)", async () => {
    const r = await s.api("POST", "/containers/create?name=never", { Image: "busybox", HostConfig: { NetworkMode: "none" } });
    expect(r.status).toBe(201);
    const w = await (await s.api("POST", "/containers/never/wait")).json() as { StatusCode: number; Error: unknown };
    expect(w).toEqual({ StatusCode: 0, Error: null });
    expect((await s.api("DELETE", "/containers/never")).status).toBe(204);
  });

  test("bad parameters are 400s that change nothing", async () => {
    expect((await s.api("POST", `/containers/${id}/wait?condition=bogus`)).status).toBe(400);
    expect((await s.api("POST", `/containers/${id}/kill?signal=NOSUCH`)).status).toBe(400);
    expect((await s.api("POST", "/containers/create?name=bad/name", { Image: "busybox" })).status).toBe(400);
    expect((await s.api("POST", "/containers/create", { Image: "busybox", HostConfig: "x" })).status).toBe(400);
    expect((await s.api("POST", "/containers/create", { Image: "busybox", Cmd: [1, 2] })).status).toBe(400);
    expect((await s.api("POST", "/containers/create", "[1,2]")).status).toBe(400);
    expect((await s.api("GET", `/containers/${id}/logs?stdout=1&tail=abc`)).status).toBe(400);
    const list = await (await s.api("GET", "/containers/json?all=1")).json() as unknown[];
    expect(list.length).toBe(1);
  });
});
