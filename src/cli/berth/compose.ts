// `berth compose`: parses the command line and prints; the work is in src/compose over the
// engine library. docker compose's verbs and flags.
import { join } from "node:path";
import type { Engine } from "../../engine/engine.ts";
import { UsageError } from "../../engine/errors.ts";
import type { LoadOptions } from "../../compose/load.ts";
import type { ProjectModel } from "../../compose/model.ts";
import type { Out } from "../../compose/project.ts";
import { type CommandSpec, type FlagSpec, type Parsed, bool, int, list, runParsed, str } from "./args.ts";
import { table } from "./format.ts";
import { writeFully, type Io } from "./io.ts";

const GLOBAL = {
  name: "compose", usage: "compose [OPTIONS] COMMAND", summary: "Define and run multi-container applications", stopAtPositional: true, minArgs: 0,
  flags: [
    list("file", "f", "Compose configuration files"), str("project-name", "p", "Project name"), str("project-directory", undefined, "Specify an alternate working directory (default: the path of the first Compose file)"),
    list("env-file", undefined, "Specify an alternate environment file"), list("profile", undefined, "Specify a profile to enable"),
  ],
} as const;

const USAGE = `Usage:  berth compose [OPTIONS] COMMAND

Define and run multi-container applications (compose-spec files, as docker compose reads them)

Options:
  -f, --file list                 Compose configuration files
  -p, --project-name string       Project name
      --project-directory string  Alternate working directory (default: the path of the first Compose file)
      --env-file list             Alternate environment file
      --profile list              Profile to enable

Commands:
  up        Create and start containers (-d, --build, --no-build, --scale S=N, --force-recreate, --no-recreate, --remove-orphans, --wait)
  down      Stop and remove containers and networks (-v: named volumes too; --rmi local|all; --remove-orphans)
  build     Build the services' images (build: key; --no-cache, --pull, -q)
  cp        Copy files between a service container and the host (SERVICE:SRC DEST | SRC SERVICE:DEST; --index, -a, -L)
  events    The project's container events as they happen (--json)
  pull      Pull the services' images (pull_policy; --ignore-pull-failures, -q)
  ps        List containers (-a, -q, --services, --format json)
  logs      View output from containers (-f, -t, --tail N)
  exec      Execute a command in a running container (-T, -u, -w, -e, --index)
  run       Run a one-off command on a service (--rm, -e, --entrypoint, -p, --no-deps, -T, --service-ports, --build)
  start, stop, restart, kill, rm, pause, unpause   The services' containers
  create    Create the services' containers without starting them (--build, --no-build)
  top       The running processes of each container
  images    The images the containers use
  wait      Block until the services' containers stop; print their exit codes
  config    The normalised, interpolated model (--format json, --services, --volumes)
  port      Print the public port for a port binding
  ls        List running compose projects (-a)
`;

type AnySpec = CommandSpec<readonly FlagSpec[]>;
const spec = <const F extends readonly FlagSpec[]>(name: string, usage: string, summary: string, flags: F, extra: Pick<AnySpec, "stopAtPositional" | "minArgs" | "maxArgs"> = {}): CommandSpec<F> =>
  ({ ...extra, name: `compose ${name}`, usage: `compose ${usage}`, summary, flags });

const SPECS = {
  up: spec("up", "up [OPTIONS] [SERVICE...]", "Create and start containers", [
    bool("detach", "d", "Detached mode: Run containers in the background"), list("scale", undefined, "Scale SERVICE to NUM instances (SERVICE=NUM)"),
    bool("force-recreate", undefined, "Recreate containers even if their configuration hasn't changed"), bool("no-recreate", undefined, "If containers already exist, don't recreate them"),
    bool("remove-orphans", undefined, "Remove containers for services not defined in the Compose file"), bool("wait", undefined, "Wait for services to be running|healthy. Implies detached mode."),
    bool("abort-on-container-exit", undefined, "Stops all containers if any container was stopped"), str("exit-code-from", undefined, "Return the exit code of the selected service container. Implies --abort-on-container-exit"),
    bool("no-build", undefined, "Don't build an image, even if it's policy"), bool("build", undefined, "Build images before starting containers"),
  ]),
  down: spec("down", "down [OPTIONS]", "Stop and remove containers, networks", [
    bool("volumes", "v", "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers"),
    bool("remove-orphans", undefined, "Remove containers for services not defined in the Compose file"), int("timeout", "t", "Specify a shutdown timeout in seconds"),
    str("rmi", undefined, "Remove images used by services. \"local\" remove only images that don't have a custom tag (\"local\"|\"all\")"),
  ]),
  build: spec("build", "build [OPTIONS] [SERVICE...]", "Build or rebuild services", [
    bool("no-cache", undefined, "Do not use cache when building the image"), bool("pull", undefined, "Always attempt to pull a newer version of the image"),
    bool("quiet", "q", "Don't print anything to STDOUT"),
  ]),
  pull: spec("pull", "pull [OPTIONS] [SERVICE...]", "Pull service images", [
    bool("ignore-pull-failures", undefined, "Pull what it can and ignores images with pull failures"), bool("quiet", "q", "Pull without printing progress information"),
  ]),
  cp: spec("cp", "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH\n        berth compose cp [OPTIONS] SRC_PATH SERVICE:DEST_PATH", "Copy files/folders between a service container and the local filesystem", [
    int("index", undefined, "Index of the container if service has multiple replicas (copying to a service: every replica when not given)"), bool("archive", "a", "Archive mode (copy all uid/gid information)"),
    bool("follow-link", "L", "Always follow symbol link in SRC_PATH"),
  ], { minArgs: 2, maxArgs: 2 }),
  events: spec("events", "events [OPTIONS] [SERVICE...]", "Receive real time events from containers", [bool("json", undefined, "Output events as a stream of json objects")]),
  ps: spec("ps", "ps [OPTIONS] [SERVICE...]", "List containers", [
    bool("all", "a", "Show all stopped containers"), bool("quiet", "q", "Only display IDs"), bool("services", undefined, "Display services"), str("format", undefined, "Format the output (table, json)"),
  ]),
  logs: spec("logs", "logs [OPTIONS] [SERVICE...]", "View output from containers", [
    bool("follow", "f", "Follow log output"), bool("timestamps", "t", "Show timestamps"), str("tail", "n", "Number of lines to show from the end of the logs for each container", { default: "all" }),
    bool("no-color", undefined, "Produce monochrome output"),
  ]),
  exec: spec("exec", "exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container", [
    bool("no-TTY", "T", "Disable pseudo-TTY allocation"), bool("detach", "d", "Detached mode"), str("user", "u", "Run the command as this user"), str("workdir", "w", "Path to workdir directory for this command"),
    list("env", "e", "Set environment variables"), int("index", undefined, "Index of the container if service has multiple replicas"), bool("privileged", undefined, "Give extended privileges to the process"),
    bool("interactive", "i", "Keep STDIN open even if not attached (default true)"), bool("tty", "t", "Allocate a pseudo-TTY (default: when stdin is a terminal)"),
  ], { stopAtPositional: 1, minArgs: 2 }),
  run: spec("run", "run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service", [
    bool("rm", undefined, "Automatically remove the container when it exits"), bool("detach", "d", "Run container in background and print container ID"), bool("no-TTY", "T", "Disable pseudo-TTY allocation"),
    list("env", "e", "Set environment variables"), str("entrypoint", undefined, "Override the entrypoint of the image"), list("publish", "p", "Publish a container's port(s) to the host"),
    bool("no-deps", undefined, "Don't start linked services"), bool("service-ports", undefined, "Run command with all service's ports enabled and mapped to the host"), str("name", undefined, "Assign a name to the container"),
    bool("interactive", "i", "Keep STDIN open even if not attached (default true)"), bool("build", undefined, "Build image before starting container"),
  ], { stopAtPositional: true, minArgs: 1 }),
  start: spec("start", "start [SERVICE...]", "Start services", []),
  stop: spec("stop", "stop [OPTIONS] [SERVICE...]", "Stop services", [int("timeout", "t", "Specify a shutdown timeout in seconds")]),
  restart: spec("restart", "restart [OPTIONS] [SERVICE...]", "Restart service containers", [int("timeout", "t", "Specify a shutdown timeout in seconds")]),
  kill: spec("kill", "kill [OPTIONS] [SERVICE...]", "Force stop service containers", [str("signal", "s", "SIGNAL to send to the container", { default: "SIGKILL" })]),
  rm: spec("rm", "rm [OPTIONS] [SERVICE...]", "Removes stopped service containers", [
    bool("force", "f", "Don't ask to confirm removal"), bool("stop", "s", "Stop the containers, if required, before removing"), bool("volumes", "v", "Remove any anonymous volumes attached to containers"),
  ]),
  config: spec("config", "config [OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format", [
    str("format", undefined, "Format the output. Values: [yaml | json]", { default: "yaml" }), bool("services", undefined, "Print the service names, one per line."),
    bool("volumes", undefined, "Print the volume names, one per line."), bool("quiet", "q", "Only validate the configuration, don't print anything"),
  ]),
  port: spec("port", "port [OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding", [
    int("index", undefined, "Index of the container if service has multiple replicas"), str("protocol", undefined, "tcp or udp", { default: "tcp" }),
  ], { minArgs: 2, maxArgs: 2 }),
  create: spec("create", "create [OPTIONS] [SERVICE...]", "Creates containers for a service", [
    bool("force-recreate", undefined, "Recreate containers even if their configuration hasn't changed"), bool("no-recreate", undefined, "If containers already exist, don't recreate them"),
    list("scale", undefined, "Scale SERVICE to NUM instances (SERVICE=NUM)"),
    bool("build", undefined, "Build images before starting containers"), bool("no-build", undefined, "Don't build an image, even if it's policy"),
  ]),
  pause: spec("pause", "pause [SERVICE...]", "Pause services", []),
  unpause: spec("unpause", "unpause [SERVICE...]", "Unpause services", []),
  top: spec("top", "top [SERVICE...]", "Display the running processes", []),
  images: spec("images", "images [OPTIONS] [SERVICE...]", "List images used by the created containers", [bool("quiet", "q", "Only display IDs")]),
  wait: spec("wait", "wait SERVICE [SERVICE...]", "Block until containers of all (or specified) services stop.", [], { minArgs: 1 }),
  ls: spec("ls", "ls [OPTIONS]", "List running compose projects", [bool("all", "a", "Show all stopped Compose projects"), bool("quiet", "q", "Only display project names"), str("format", undefined, "Format the output (table, json)")]),
} as const;

function scaleMap(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw new UsageError(`invalid --scale ${JSON.stringify(s)}: use SERVICE=NUM`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

const isTerminal = (fd: number): boolean => (require("../../engine/tty.ts") as typeof import("../../engine/tty.ts")).isTerminal(fd);

/** `berth compose ...`; withEngine opens the engine (after the file is known to be good). */
export async function composeCommand(argv: string[], root: string, io: Io, withEngine: <T>(fn: (e: Engine) => Promise<T>) => Promise<T>): Promise<number> {
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    (argv.length ? io.out : io.err)(USAGE);
    return argv.length ? 0 : 1;
  }
  return runParsed(GLOBAL, argv, io, async (g) => {
    const [verb, ...rest] = g.args;
    if (!verb) { io.err(USAGE); return 1; }
    if (verb === "version") { io.out("berth compose version v2.29.0 (compose-spec; berth engine)\n"); return 0; }
    const s = (SPECS as Record<string, AnySpec>)[verb];
    if (!s) throw new UsageError(`unknown docker command: "compose ${verb}"\nSee 'berth compose --help'`);
    const loadOpts: LoadOptions = {
      files: g.get("file"), projectName: g.get("project-name"), projectDirectory: g.get("project-directory"), envFiles: g.get("env-file"), profiles: g.get("profile"),
      cacheDir: join(root, "cache", "compose"),
      warn: (m) => io.err(m.startsWith("WARN") ? `${m}\n` : `WARN[0000] ${m}\n`),
    };
    return runParsed(s, rest, io, (p) => run(verb, p, loadOpts, io, withEngine));
  });
}

async function run(verb: string, p: Parsed, loadOpts: LoadOptions, io: Io, withEngine: <T>(fn: (e: Engine) => Promise<T>) => Promise<T>): Promise<number> {
  const [{ loadProject }, project] = await Promise.all([import("../../compose/load.ts"), import("../../compose/project.ts")]);
  // One command's flags by name (each verb's table above says which it has).
  // (The lifecycle verbs share one call: a flag a verb does not have reads as not given.)
  const g = (name: string): unknown => {
    try {
      return (p as unknown as { get(n: string): unknown }).get(name);
    } catch {
      return undefined;
    }
  };
  const out: Out = { progress: (l) => io.err(`${l}\n`), out: io.out };
  if (verb === "ls") {
    return withEngine(async (engine) => {
      const rows = project.listProjects(engine, g("all") as boolean);
      if (g("quiet")) rows.forEach((r) => io.out(`${r.name}\n`));
      else if (g("format") === "json") io.out(JSON.stringify(rows.map((r) => ({ Name: r.name, Status: r.status, ConfigFiles: r.configFiles }))) + "\n");
      else io.out(table(["NAME", "STATUS", "CONFIG FILES"], rows.map((r) => [r.name, r.status, r.configFiles])));
      return 0;
    });
  }
  // The file first: a bad file is refused before anything is opened or made.
  const model: ProjectModel = await loadProject(loadOpts);
  if (verb === "config") {
    if (g("quiet")) return 0;
    if (g("services")) { io.out(model.services.map((s) => `${s.name}\n`).join("")); return 0; }
    if (g("volumes")) { io.out(model.volumes.map((v) => `${v.key}\n`).join("")); return 0; }
    const { configDocument } = await import("../../compose/config.ts");
    const doc = configDocument(model);
    if (g("format") === "json") io.out(JSON.stringify(doc, null, 2) + "\n");
    else io.out((await import("yaml")).stringify(doc));
    return 0;
  }
  return withEngine(async (engine) => {
    const names = p.args;
    switch (verb) {
      case "up": {
        if (g("build") && g("no-build")) throw new UsageError("--build and --no-build are incompatible");
        const ac = new AbortController();
        const detach = (g("detach") as boolean) || (g("wait") as boolean);
        const rows = await project.up(engine, model, {
          services: names, scale: scaleMap(g("scale") as string[]), forceRecreate: g("force-recreate") as boolean, noRecreate: g("no-recreate") as boolean,
          removeOrphans: g("remove-orphans") as boolean, wait: g("wait") as boolean, signal: ac.signal,
          build: g("build") as boolean, noBuild: g("no-build") as boolean, buildOutput: (t) => io.err(t),
        }, out);
        if (detach) return 0;
        // Foreground: the services' output until they end; Ctrl-C stops them gracefully, a second kills.
        let interrupts = 0;
        const logsAc = new AbortController();
        const onInt = () => {
          interrupts++;
          if (interrupts === 1) {
            io.err("Gracefully stopping... (press Ctrl+C again to force)\n");
            void project.lifecycle(engine, model, "stop", names, {}, out).finally(() => logsAc.abort());
          } else {
            void project.lifecycle(engine, model, "kill", names, {}, out).finally(() => logsAc.abort());
          }
        };
        process.on("SIGINT", onInt);
        process.on("SIGTERM", onInt);
        // --abort-on-container-exit / --exit-code-from S: the first container to end stops the
        // others; the status is S's (or the first one's).
        const exitFrom = g("exit-code-from") as string | undefined;
        if (exitFrom !== undefined && !model.services.some((x) => x.name === exitFrom)) throw new UsageError(`no such service: ${exitFrom}`);
        let status = 0;
        let aborting: Promise<unknown> | undefined;
        if (exitFrom !== undefined || g("abort-on-container-exit")) {
          const waitAc = new AbortController();
          const codes = new Map<string, number>();
          aborting = Promise.race(rows.map(async (r) => {
            const code = await engine.waitExit(r.id, waitAc.signal);
            codes.set(r.config.labels["com.docker.compose.service"]!, code);
            return { r, code };
          })).then(async (first) => {
            io.err(`Aborting on container exit... (${first.r.name} exited with code ${first.code})\n`);
            await project.lifecycle(engine, model, "stop", names, {}, out);
            logsAc.abort();
            waitAc.abort();
            status = exitFrom === undefined ? first.code : (codes.get(exitFrom) ?? project.serviceViews(engine, model, [exitFrom])[0]?.exitCode ?? 0);
          }, () => {});
        }
        try {
          const served = [...new Set(rows.map((r) => r.config.labels["com.docker.compose.service"]!))];
          await project.logs(engine, model, served, { follow: true, signal: logsAc.signal, colour: isTerminal(1) }, (fd, d) => writeFully(fd, d));
          await aborting;
        } finally {
          process.off("SIGINT", onInt);
          process.off("SIGTERM", onInt);
        }
        return status;
      }
      case "down":
        await project.down(engine, model, { volumes: g("volumes") as boolean, removeOrphans: g("remove-orphans") as boolean, timeout: g("timeout") as number | undefined, rmi: g("rmi") as "local" | "all" | undefined }, out);
        return 0;
      case "cp": {
        const { copy } = await import("../../compose/cp-events.ts");
        await copy(engine, model, names[0]!, names[1]!, { index: g("index") as number | undefined, archive: g("archive") as boolean, followLink: g("follow-link") as boolean });
        return 0;
      }
      case "events": {
        const { followEvents, eventJson, eventText } = await import("../../compose/cp-events.ts");
        const ac = new AbortController();
        const onInt = () => ac.abort();
        process.on("SIGINT", onInt);
        process.on("SIGTERM", onInt);
        try {
          const json = g("json") as boolean;
          await followEvents(engine, model, names, ac.signal, (e) => io.out(`${json ? JSON.stringify(eventJson(e)) : eventText(e)}\n`));
        } finally {
          process.off("SIGINT", onInt);
          process.off("SIGTERM", onInt);
        }
        return 0;
      }
      case "pull": {
        const { pullServices } = await import("../../compose/pull.ts");
        const quiet = g("quiet") as boolean;
        await pullServices(engine, model, names, { ignoreFailures: g("ignore-pull-failures") as boolean }, (l) => { if (!quiet) out.progress(l); });
        return 0;
      }
      case "build": {
        const { buildServices } = await import("../../compose/build.ts");
        const quiet = g("quiet") as boolean;
        await buildServices(engine, model, names, { noCache: g("no-cache") as boolean, pull: g("pull") as boolean }, { progress: out.progress, buildOutput: (t) => { if (!quiet) io.out(t); } });
        return 0;
      }
      case "ps": {
        const entries = project.ps(engine, model.name, { all: g("all") as boolean, services: names });
        if (g("services")) { io.out([...new Set(entries.map((e) => e.service))].map((x) => `${x}\n`).join("")); return 0; }
        if (g("quiet")) { io.out(entries.map((e) => `${e.view.row.id}\n`).join("")); return 0; }
        if (g("format") === "json") { io.out(JSON.stringify(entries.map((e) => project.psJson(e, model.name))) + "\n"); return 0; }
        const { statusText } = await import("../../engine/inspect.ts");
        const { commandOf } = await import("../../engine/command.ts");
        io.out(table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], entries.map((e) => {
          const r = e.view.row;
          const cmd = commandOf(r.config).join(" ");
          return [r.name, r.config.image, JSON.stringify(cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd), e.service, new Date(r.createdAt).toISOString().replace("T", " ").slice(0, 19), statusText(e.view), e.ports];
        })));
        return 0;
      }
      case "logs": {
        const tail = g("tail") as string;
        const ac = new AbortController();
        const onInt = () => ac.abort();
        process.on("SIGINT", onInt);
        try {
          await project.logs(engine, model, names, { follow: g("follow") as boolean, timestamps: g("timestamps") as boolean, tail: tail === "all" ? undefined : Number(tail), signal: ac.signal, colour: !g("no-color") && isTerminal(1) }, (fd, d) => writeFully(fd, d));
        } finally {
          process.off("SIGINT", onInt);
        }
        return 0;
      }
      case "exec": {
        const [service, ...cmd] = names;
        const tty = g("tty") as boolean || (!g("no-TTY") && isTerminal(0));
        return project.exec(engine, model, service!, cmd, {
          index: g("index") as number | undefined, tty, interactive: true, user: g("user") as string | undefined, workdir: g("workdir") as string | undefined,
          env: g("env") as string[], detach: g("detach") as boolean, privileged: g("privileged") as boolean,
        });
      }
      case "run": {
        const [service, ...cmd] = names;
        const tty = !g("no-TTY") && isTerminal(0) && isTerminal(1);
        const req = await project.runRequest(engine, model, service!, {
          build: g("build") as boolean, buildOutput: (t) => io.err(t), cmd, rm: g("rm") as boolean, noDeps: g("no-deps") as boolean, entrypoint: g("entrypoint") as string | undefined, env: g("env") as string[],
          servicePorts: g("service-ports") as boolean, publish: g("publish") as string[], tty, interactive: !g("detach"), name: g("name") as string | undefined,
        }, out);
        if (g("detach")) {
          const row = await engine.create(req);
          await engine.start(row.id);
          io.out(`${row.name}\n`);
          return 0;
        }
        const { runForeground } = await import("./container.ts");
        const row = await engine.create(req, { forRun: true });
        return runForeground(engine, row.id, { withStdin: true }, true);
      }
      case "create":
        if (g("build") && g("no-build")) throw new UsageError("--build and --no-build are incompatible");
        await project.up(engine, model, { build: g("build") as boolean, noBuild: g("no-build") as boolean, buildOutput: (t) => io.err(t), services: names, scale: scaleMap(g("scale") as string[]), forceRecreate: g("force-recreate") as boolean, noRecreate: g("no-recreate") as boolean, noStart: true }, out);
        return 0;
      case "top": {
        const { containerTop } = await import("../../engine/exec.ts");
        for (const v of project.serviceViews(engine, model, names).filter((x) => x.running)) {
          const t = containerTop(v.row);
          io.out(`${v.row.name}\n${table(t.titles, t.processes)}\n`);
        }
        return 0;
      }
      case "images": {
        const views = project.serviceViews(engine, model, names);
        if (g("quiet")) { io.out([...new Set(views.map((v) => v.row.config.imageId))].map((i) => `${i}\n`).join("")); return 0; }
        io.out(table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID"], views.map((v) => {
          const [repo, tag = "latest"] = v.row.config.image.split(/:(?=[^/:]+$)/);
          return [v.row.name, repo!, tag, v.row.config.imageId.replace(/^sha256:/, "").slice(0, 12)];
        })));
        return 0;
      }
      case "wait": {
        const codes = await Promise.all(project.serviceViews(engine, model, names).map((v) => engine.waitExit(v.row.id)));
        io.out(codes.map((c) => `${c}\n`).join(""));
        return codes.find((c) => c !== 0) ?? 0;
      }
      case "start": case "stop": case "restart": case "kill": case "rm": case "pause": case "unpause":
        await project.lifecycle(engine, model, verb, names, {
          timeout: g("timeout") as number | undefined, signal: g("signal") as string | undefined, force: g("force") as boolean, stop: g("stop") as boolean, volumes: g("volumes") as boolean,
        }, out);
        return 0;
      case "port":
        io.out(`${await project.port(engine, model, names[0]!, names[1]!, { index: g("index") as number | undefined, protocol: g("protocol") as string })}\n`);
        return 0;
    }
    throw new UsageError(`unknown command compose ${verb}`);
  });
}
