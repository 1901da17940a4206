// secrets: and configs: as docker compose mounts them without a swarm: read-only files in the
// container, from a host file, an environment variable or inline content; a secret at
// /run/secrets/NAME (or its target), a config at /NAME (or its target). What up writes for text
// sources, down removes; what is wrong is refused before anything is made.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { compose, projectDir, removeProjectDirs, run } from "./helpers.ts";

let root = "";
afterAll(() => {
  if (root) {
    run(root, "/", ["system", "reset", "-f"]);
    cleanupRoot(root);
  }
  removeProjectDirs();
});
beforeAll(async () => {
  root = await engineRoot();
});

const FILE = `name: vault
services:
  app:
    image: busybox
    command: sleep 1000
    stop_grace_period: 1s
    secrets:
      - db_password
      - source: api_token
        target: token
      - source: api_token
        target: /etc/app/token
        mode: 0400
    configs:
      - app_conf
      - source: motd
        target: etc/motd
secrets:
  db_password:
    file: ./secrets/db_password.txt
  api_token:
    environment: API_TOKEN
configs:
  app_conf:
    file: ./app.conf
  motd:
    content: |
      hello from compose
`;

test("up mounts each secret and config read-only where docker compose does; down removes what up wrote", () => {
  const dir = projectDir({ "compose.yaml": FILE, "secrets/db_password.txt": "s3cret\n", "app.conf": "level=debug\n" });
  const up = compose(root, dir, ["up", "-d"], { API_TOKEN: "tok-123" });
  expect(up.code).toBe(0);
  // a swarm-only option is named, not silently dropped
  expect(up.stderr).toContain(`secret api_token: "mode" needs a swarm and is ignored`);
  const cat = (path: string) => compose(root, dir, ["exec", "-T", "app", "cat", path]).stdout;
  expect(cat("/run/secrets/db_password")).toBe("s3cret\n");
  expect(cat("/run/secrets/token")).toBe("tok-123");
  expect(cat("/etc/app/token")).toBe("tok-123");
  expect(cat("/app_conf")).toBe("level=debug\n");
  expect(cat("/etc/motd")).toBe("hello from compose\n");
  // read-only: the container cannot change the host's file
  const write = compose(root, dir, ["exec", "-T", "app", "sh", "-c", "echo x > /run/secrets/db_password"]);
  expect(write.code).not.toBe(0);
  expect(cat("/run/secrets/db_password")).toBe("s3cret\n");
  // text sources were written under the engine root's compose dir; down removes them
  expect(existsSync(join(root, "compose", "vault", "secrets", "api_token"))).toBe(true);
  expect(existsSync(join(root, "compose", "vault", "configs", "motd"))).toBe(true);
  expect(compose(root, dir, ["down", "-t", "1"]).code).toBe(0);
  expect(existsSync(join(root, "compose", "vault"))).toBe(false);
  expect(existsSync(join(dir, "secrets/db_password.txt"))).toBe(true); // a file: source is the user's
});

test("refused before anything is made: a missing file, an unset variable, an undefined or external secret", () => {
  const dir = projectDir({ "compose.yaml": FILE, "app.conf": "x\n" }, "nofile");
  const missing = compose(root, dir, ["up", "-d"], { API_TOKEN: "t" });
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain(`secret "db_password": file ${join(dir, "secrets/db_password.txt")} not found`);
  expect(run(root, "/", ["ps", "-aq"]).stdout.trim()).toBe("");

  const unset = compose(root, projectDir({ "compose.yaml": FILE, "secrets/db_password.txt": "p", "app.conf": "x" }, "unset"), ["config"], { API_TOKEN: "" });
  expect(unset.code).toBe(0); // set, even if empty
  expect(process.env.API_TOKEN).toBeUndefined();
  const noVar = compose(root, projectDir({ "compose.yaml": FILE, "secrets/db_password.txt": "p", "app.conf": "x" }, "novar"), ["up", "-d"]);
  expect(noVar.code).not.toBe(0);
  expect(noVar.stderr).toContain("environment variable API_TOKEN is not set");

  const undef = compose(root, projectDir({ "compose.yaml": "services:\n  a:\n    image: busybox\n    secrets: [nope]\n" }, "undef"), ["up", "-d"]);
  expect(undef.code).not.toBe(0);
  expect(undef.stderr).toContain("refers to undefined secret nope");

  const external = compose(root, projectDir({ "compose.yaml": "services:\n  a:\n    image: busybox\n    secrets: [s]\nsecrets:\n  s:\n    external: true\n" }, "ext"), ["up", "-d"]);
  expect(external.code).not.toBe(0);
  expect(external.stderr).toContain(`secret "s" is external`);
  expect(run(root, "/", ["ps", "-aq"]).stdout.trim()).toBe("");
});
