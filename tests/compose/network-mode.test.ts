// network_mode: service:X — a service that lives in the network namespace of X's first container
// (docker compose's sidecar pattern): X starts first, the sidecar reaches X on 127.0.0.1, and when
// X's container is made again the sidecar's is too (its old namespace would keep it apart).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { freeSubnet } from "../network/lab.ts";
import { compose, projectDir, removeProjectDirs, run } from "./helpers.ts";

let root = "";
let dir = "";
const FILE = (greeting: string) => `name: pod
services:
  sidecar:
    image: busybox
    command: sleep 1000
    stop_grace_period: 1s
    network_mode: service:web
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo ${greeting} > /www/index.html && exec httpd -f -p 8080 -h /www"]
    stop_grace_period: 1s
`;

beforeAll(async () => {
  root = await engineRoot();
  dir = projectDir({ "compose.yaml": FILE("hello") });
});
afterAll(() => {
  if (root) {
    compose(root, dir, ["down", "-t", "1"]);
    run(root, "/", ["system", "reset", "-f"]);
    cleanupRoot(root);
  }
  removeProjectDirs();
});

const id = (name: string) => run(root, "/", ["inspect", "-f", "{{.Id}}", name]).stdout.trim();
const fromSidecar = () => compose(root, dir, ["exec", "-T", "sidecar", "timeout", "5", "wget", "-O-", "http://127.0.0.1:8080/"]).stdout;

test("the sidecar starts after web, in web's network namespace", () => {
  const up = compose(root, dir, ["up", "-d"]);
  expect(up.code).toBe(0);
  expect(up.stderr.indexOf("pod-web-1  Started")).toBeLessThan(up.stderr.indexOf("pod-sidecar-1  Started"));
  expect(run(root, "/", ["inspect", "-f", "{{.HostConfig.NetworkMode}}", "pod-sidecar-1"]).stdout.trim()).toBe(`container:${id("pod-web-1")}`);
  expect(fromSidecar()).toBe("hello\n");
  // a second up changes nothing
  const before = [id("pod-web-1"), id("pod-sidecar-1")];
  const again = compose(root, dir, ["up", "-d"]);
  expect(again.code).toBe(0);
  expect([id("pod-web-1"), id("pod-sidecar-1")]).toEqual(before);
});

test("web made again: the sidecar is made again, in the new namespace", () => {
  const sidecar = id("pod-sidecar-1");
  writeFileSync(join(dir, "compose.yaml"), FILE("again"));
  const up = compose(root, dir, ["up", "-d"]);
  expect(up.code).toBe(0);
  expect(up.stderr).toContain("pod-web-1  Recreated");
  expect(up.stderr).toContain("pod-sidecar-1  Recreated");
  expect(id("pod-sidecar-1")).not.toBe(sidecar);
  expect(fromSidecar()).toBe("again\n");
});

test("a network_mode naming no service of the project is refused", () => {
  const bad = compose(root, projectDir({ "compose.yaml": "services:\n  a:\n    image: busybox\n    network_mode: service:nope\n" }, "bad"), ["up", "-d"]);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("nope");
});

test("ipv4_address: the service's fixed address on a network with its own subnet", () => {
  const sub = freeSubnet();
  const at = (n: number) => sub.replace(/0\/24$/, String(n));
  const d = projectDir({ "compose.yaml": `name: fixedip
services:
  db:
    image: busybox
    command: sleep 1000
    stop_grace_period: 1s
    networks:
      back:
        ipv4_address: ${at(20)}
networks:
  back:
    ipam:
      config:
        - subnet: ${sub}
` }, "fixedip");
  try {
    expect(compose(root, d, ["up", "-d"]).code).toBe(0);
    expect(compose(root, d, ["exec", "-T", "db", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"]).stdout.trim()).toBe(`${at(20)}/24`);
    // a second up keeps the container (and so its address)
    const before = id("fixedip-db-1");
    expect(compose(root, d, ["up", "-d"]).code).toBe(0);
    expect(id("fixedip-db-1")).toBe(before);
  } finally {
    compose(root, d, ["down", "-t", "1"]);
  }
});
