// `berth pull|push|login|logout`: parse, call the registry client (src/image/registry), print —
// docker's lines (one per layer event without a terminal, a live display on one).
import { UsageError } from "../../engine/errors.ts";
import { pull, push, registryLogin, registryLogout, repositoryTags, type PullEvent } from "../../engine/registry.ts";
import { DEFAULT_ROOT, familiarName, parseReference } from "../../image/index.ts";
import { type CommandSpec, type FlagSpec, type Parsed, bool, runParsed, str } from "./args.ts";
import { stdio } from "./io.ts";
import { pullDisplay } from "./progress.ts";

export interface RegistryCommandContext {
  root?: string;
}

const TLS = bool("tls-verify", undefined, "Require HTTPS and verify certificates (false: plain HTTP or unverified HTTPS; see docs/registries.md)", { default: true });

interface RegistryVerb {
  spec: CommandSpec;
  run(root: string, p: Parsed): Promise<number>;
}

function verb<const F extends readonly FlagSpec[]>(name: string, usage: string, summary: string, flags: F, args: { minArgs?: number; maxArgs?: number },
  run: (root: string, p: Parsed<F[number]>) => Promise<number>): RegistryVerb {
  return { spec: { name, usage: `${name} ${usage}`, summary, flags, ...args }, run };
}

function tlsVerify(p: { given: Set<string>; bools: Set<string> }): boolean | undefined {
  return p.given.has("tls-verify") ? p.bools.has("tls-verify") : undefined;
}

const PULL = verb("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", [
  bool("all-tags", "a", "Download all tagged images in the repository"),
  str("platform", undefined, "Set platform if server is multi-platform capable (OS/ARCH[/VARIANT])"),
  bool("quiet", "q", "Suppress verbose output"),
  TLS,
], { minArgs: 1, maxArgs: 1 }, async (root, p) => {
  const arg = p.args[0]!;
  const quiet = p.get("quiet");
  let refs = [arg];
  if (p.get("all-tags")) {
    const r = parseReference(arg);
    if (r.digest || /:[\w][\w.-]*$/.test(arg.slice(arg.lastIndexOf("/") + 1))) throw new UsageError("tag can't be used with --all-tags/-a");
    const repo = `${r.domain}/${r.path}`;
    refs = (await repositoryTags(root, arg, tlsVerify(p))).map((t) => `${repo}:${t}`);
    if (!quiet) stdio.out(`Pulling all tags of ${familiarName(repo)}: ${refs.length}\n`);
  } else if (!quiet && !/[:@]/.test(arg.slice(arg.lastIndexOf("/") + 1))) {
    stdio.out("Using default tag: latest\n");
  }
  for (const ref of refs) {
    const display = quiet ? null : pullDisplay();
    try {
      const r = await pull(root, ref, { ...(p.get("platform") ? { platform: p.get("platform")! } : {}), tlsVerify: tlsVerify(p), onEvent: display?.event ?? (() => {}) });
      display?.done();
      const shown = r.name ? familiarName(r.name) : `${familiarName(`${parseReference(ref).domain}/${parseReference(ref).path}`)}@${r.digest}`;
      if (!quiet) stdio.out(`Status: ${r.fresh ? "Downloaded newer image" : "Image is up to date"} for ${shown}\n`);
      stdio.out(`${r.name ?? `${parseReference(ref).domain}/${parseReference(ref).path}@${r.digest}`}\n`);
    } finally {
      display?.done();
    }
  }
  return 0;
});

const PUSH = verb("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", [
  bool("quiet", "q", "Suppress verbose output"), TLS,
], { minArgs: 1, maxArgs: 1 }, async (root, p) => {
  const quiet = p.get("quiet");
  const display = quiet ? null : pullDisplay();
  try {
    await push(root, p.args[0]!, { tlsVerify: tlsVerify(p), onEvent: display?.event ?? (() => {}) });
    display?.done();
    if (quiet) stdio.out(`${p.args[0]}\n`);
  } finally {
    display?.done();
  }
  return 0;
});

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

const LOGIN = verb("login", "[OPTIONS] [SERVER]", "Log in to a registry (credentials kept in $DOCKER_CONFIG/config.json, else ~/.docker/config.json)", [
  str("username", "u", "Username"), str("password", "p", "Password"), bool("password-stdin", undefined, "Take the password from stdin"), TLS,
], { maxArgs: 1 }, async (root, p) => {
  const username = p.get("username");
  let password = p.get("password");
  if (p.get("password-stdin")) {
    if (password !== undefined) throw new UsageError("--password and --password-stdin are mutually exclusive");
    if (!username) throw new UsageError("Must provide --username with --password-stdin");
    password = await readStdin();
  } else if (password !== undefined) {
    stdio.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  if (!username || !password) throw new UsageError("Cannot perform an interactive login: give --username and --password-stdin");
  await registryLogin(root, p.args[0], { username, password }, tlsVerify(p));
  stdio.out("Login Succeeded\n");
  return 0;
});

const LOGOUT = verb("logout", "[SERVER]", "Log out from a registry", [], { maxArgs: 1 }, async (_root, p) => {
  const r = registryLogout(p.args[0]);
  stdio.out(r.removed ? `Removing login credentials for ${r.host}\n` : `Not logged in to ${r.host}\n`);
  return 0;
});

const VERBS: Record<string, RegistryVerb> = { pull: PULL, push: PUSH, login: LOGIN, logout: LOGOUT };
export const REGISTRY_VERBS = Object.keys(VERBS);

export async function registryCommand(name: string, argv: string[], ctx: RegistryCommandContext = {}): Promise<number> {
  const v = VERBS[name]!;
  const root = ctx.root ?? process.env.BERTH_ROOT ?? DEFAULT_ROOT;
  try {
    return await runParsed(v.spec, argv, stdio, (p) => v.run(root, p));
  } catch (e) {
    const err = e as Error;
    stdio.err(`Error response from daemon: ${err.message}\n`);
    if (process.env.BERTH_DEBUG && err.stack) stdio.err(err.stack + "\n");
    return err instanceof UsageError ? 125 : 1;
  }
}

export type { PullEvent };
