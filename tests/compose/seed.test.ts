// Seed 004's two compose files, with local images: busybox httpd stands in for httpd and nginx
// (as the issue says), busybox sleep for ansible. As written in the seed, both files are broken
// (the first puts `image:` straight under `services:`, the second lists services at the top
// level beside `version:`): berth says so clearly. Written as the tutorial means them, they come
// up, answer on 80 and on one port of 1000-2000, show in ps with their ports, and down leaves nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { compose, httpGet, networkNames, projectDir, run, removeProjectDirs } from "./helpers.ts";

let root = "";
beforeAll(async () => {
  root = await engineRoot();
  // Stand-in images: "httpd" and "nginx" serve /var/www on 80 (nginx also on 81, the port the
  // seed maps its range to); "ansible" just stays up.
  expect(run(root, "/", ["run", "--name", "base", "--network", "none", "busybox", "true"]).code).toBe(0);
  expect(run(root, "/", ["commit", "-c", 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]', "base", "httpd:latest"]).code).toBe(0);
  expect(run(root, "/", ["commit", "-c", 'CMD ["sh", "-c", "httpd -p 81 -h /var/www; exec httpd -f -p 80 -h /var/www"]', "base", "nginx"]).code).toBe(0);
  expect(run(root, "/", ["commit", "-c", 'CMD ["sleep", "1000000"]', "base", "ansible"]).code).toBe(0);
  run(root, "/", ["rm", "base"]);
});
afterAll(() => {
  if (!root) return;
  run(root, "/", ["system", "reset", "-f"]);
  cleanupRoot(root);
  removeProjectDirs();
});

test("the seed's files as written: each one clear error, nothing created", () => {
  const first = projectDir({ "docker-compose.yml": 'services:\n  image: "nginx"\n  orch:\n    image: "ansible"\n  web2:\n    image: "httpd:latest"\n' });
  let r = compose(root, first, ["up", "-d"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("services.image must be an object");
  const second = projectDir({ "docker-compose.yml": 'version: "3.0"\nweb1:\n  image: "httpd"\n  ports:\n    - "80:80"\nweb2:\n  image: "nginx"\n  ports:\n    - "1000-2000:81"\n' });
  r = compose(root, second, ["up", "-d"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("additional properties 'web1' not allowed");
  expect(r.stderr).toContain("put them under a top-level `services:` key");
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
});

test("seed file 1 (three services) and file 2 (ports 80 and 1000-2000) up, answer, ps, down", async () => {
  const one = projectDir({ "docker-compose.yml": 'services:\n  web1:\n    image: "nginx"\n  orch:\n    image: "ansible"\n  web2:\n    image: "httpd:latest"\n' }, "seed1");
  let r = compose(root, one, ["up", "-d"]);
  expect(r.code).toBe(0);
  const ps1 = compose(root, one, ["ps"]).stdout;
  for (const n of ["seed1-web1-1", "seed1-orch-1", "seed1-web2-1"]) expect(ps1).toContain(n);
  expect(compose(root, one, ["down", "-t", "1"]).code).toBe(0);

  const two = projectDir({ "docker-compose.yml": 'version: "3.0"\nservices:\n  web1:\n    image: "httpd"\n    ports:\n      - "80:80"\n  web2:\n    image: "nginx"\n    ports:\n      - "1000-2000:81"\n' }, "seed2");
  r = compose(root, two, ["up", "-d"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("the attribute `version` is obsolete");
  expect(await httpGet(80, "/index.html")).toBe("hello from berth\n");
  const published = compose(root, two, ["port", "web2", "81"]).stdout.trim();
  const port = Number(published.split(":")[1]);
  expect(port).toBeGreaterThanOrEqual(1000);
  expect(port).toBeLessThanOrEqual(2000);
  expect(await httpGet(port, "/index.html")).toBe("hello from berth\n");
  const ps = compose(root, two, ["ps"]).stdout;
  expect(ps).toContain("0.0.0.0:80->80/tcp");
  expect(ps).toContain(`0.0.0.0:${port}->81/tcp`);
  expect(compose(root, two, ["down", "-t", "1"]).code).toBe(0);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
  expect(networkNames(root).filter((n) => n.startsWith("seed"))).toEqual([]);
});

test("a host port range with deploy.replicas: 3: three containers, three distinct free ports of the range, compose port shows each", async () => {
  const dir = projectDir({ "compose.yaml": 'services:\n  web2:\n    image: "nginx"\n    stop_grace_period: 1s\n    deploy:\n      replicas: 3\n    ports:\n      - "1000-2000:81"\n' }, "ranged");
  expect(compose(root, dir, ["up", "-d"]).code).toBe(0);
  const ports = [1, 2, 3].map((i) => Number(compose(root, dir, ["port", "--index", String(i), "web2", "81"]).stdout.trim().split(":")[1]));
  expect(new Set(ports).size).toBe(3);
  for (const p of ports) {
    expect(p).toBeGreaterThanOrEqual(1000);
    expect(p).toBeLessThanOrEqual(2000);
    expect(await httpGet(p, "/index.html")).toBe("hello from berth\n");
  }
  expect(compose(root, dir, ["down"]).code).toBe(0);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
});
