// The websocket form of attach (GET /containers/{id}/attach/ws), driven by Bun's WebSocket client
// (RFC 6455, over the service's unix socket): stdin in, stdout out of `cat`, unmultiplexed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dockerOk, startTestService, type TestService } from "./helpers.ts";

let s: TestService;
beforeAll(async () => { s = await startTestService(); });
afterAll(async () => { await s?.stop(); });

const ok = dockerOk;

/** Opens the websocket; collects messages (binary as Buffer, text as string). */
async function open(path: string): Promise<{ ws: WebSocket; messages: (Buffer | string)[]; closed: Promise<void>; until(text: string): Promise<string> }> {
  const ws = new WebSocket(`ws+unix://${s.socket}:${path}`);
  ws.binaryType = "arraybuffer";
  const messages: (Buffer | string)[] = [];
  const waiters: (() => void)[] = [];
  ws.onmessage = (e) => {
    messages.push(typeof e.data === "string" ? e.data : Buffer.from(e.data as ArrayBuffer));
    for (const w of waiters.splice(0)) w();
  };
  const closed = new Promise<void>((r) => { ws.onclose = () => { r(); for (const w of waiters.splice(0)) w(); }; });
  await new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = () => reject(new Error(`websocket ${path} failed`)); });
  const text = () => messages.map((m) => m.toString()).join("");
  return {
    ws, messages, closed,
    async until(want) {
      while (!text().includes(want) && ws.readyState === WebSocket.OPEN) await new Promise<void>((r) => waiters.push(r));
      return text();
    },
  };
}

describe("attach over a websocket", () => {
  test("stdin reaches cat and its stdout comes back as binary messages; closing is stdin's EOF", async () => {
    ok(s.docker(["run", "-d", "-i", "--network", "none", "--name", "wscat", "busybox", "cat"]));
    const c = await open("/containers/wscat/attach/ws?stream=1&stdin=1&stdout=1&stderr=1");
    c.ws.send("hello over ws\n");
    expect(await c.until("hello over ws\n")).toBe("hello over ws\n");
    c.ws.send(new TextEncoder().encode("second\n"));
    expect(await c.until("second\n")).toBe("hello over ws\nsecond\n");
    // not multiplexed (no 8-byte headers) and binary frames (API >= 1.28)
    expect(c.messages.every((m) => Buffer.isBuffer(m))).toBe(true);
    c.ws.close();
    await c.closed;
    expect(ok(s.docker(["wait", "wscat"])).trim()).toBe("0");
    ok(s.docker(["rm", "wscat"]));
  });

  test("a /v1.27 client gets text messages; logs=1 replays the log first", async () => {
    ok(s.docker(["run", "-d", "-i", "--network", "none", "--name", "wsold", "busybox", "sh", "-c", "echo ready; cat"]));
    while (!ok(s.docker(["logs", "wsold"])).includes("ready")) await Bun.sleep(50);
    const c = await open("/v1.27/containers/wsold/attach/ws?logs=1&stream=1&stdin=1&stdout=1");
    expect(await c.until("ready\n")).toBe("ready\n");
    c.ws.send("text\n");
    expect(await c.until("text\n")).toBe("ready\ntext\n");
    expect(c.messages.every((m) => typeof m === "string")).toBe(true);
    c.ws.close();
    await c.closed;
    ok(s.docker(["rm", "-f", "wsold"]));
  });

  test("an unknown container is a 404; a request without the websocket upgrade a 400", async () => {
    expect((await s.api("GET", "/containers/nosuch/attach/ws?stream=1")).status).toBe(404);
    ok(s.docker(["create", "--network", "none", "--name", "wsplain", "busybox", "true"]));
    const r = await s.api("GET", "/containers/wsplain/attach/ws?stream=1");
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toContain("websocket");
    await expect(open("/containers/nosuch/attach/ws?stream=1")).rejects.toThrow();
  });
});
