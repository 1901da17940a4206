// `berth system service`: serves the Docker Engine API (src/api) on a unix socket until idle
// for --time seconds (0: until stopped). Containers keep running when it stops.
import { COMPILED } from "../../sys/build-dir.ts";
import { int, str, verb } from "./args.ts";

export const serviceCommand = verb({
  name: "system service", usage: "system service [OPTIONS]",
  summary: `Serve the Docker Engine API on a unix socket, so the docker CLI, docker-compose and the SDKs work against berth:
  DOCKER_HOST=unix:///run/berth/docker.sock docker run --rm busybox echo hi`,
  maxArgs: 0,
  flags: [
    str("host", "H", "Where to listen: unix:///PATH, tcp://127.0.0.1:PORT (unauthenticated: loopback only), or fd:// (a socket systemd passed; the default when socket-activated)", { default: "unix:///run/berth/docker.sock" }),
    int("time", "t", "Exit after this many seconds without requests (0: never)", { default: 0 }),
    str("group", undefined, "Give the socket to this group (mode 0660; default root)"),
  ],
}, async (engine, p, io) => {
  const { startService, groupId, inheritedSockets } = await import("../../api/index.ts");
  const time = p.get("time");
  const group = p.get("group");
  // Socket-activated (systemd passed LISTEN_FDS to this process): serve on that socket, as Podman does.
  const inherited = inheritedSockets();
  const host = inherited.length > 0 && !p.given.has("host") ? "fd://" : p.get("host");
  const service = await startService({
    engine, host, inherited, idleSeconds: time, gid: group ? groupId(group) : undefined,
    berthCommand: [process.execPath, ...(COMPILED ? [] : [Bun.main])],
    log: (m) => io.err(`${m}\n`),
  });
  const stop = () => service.close();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await service.closed;
  return 0;
});
