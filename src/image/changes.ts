// `--change` instructions for import/commit, in Dockerfile syntax:
// CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD.
import { parseGoDuration } from "./duration.ts";
import type { ImageConfig } from "./oci.ts";

/** HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD … | NONE. */
function healthcheck(arg: string): NonNullable<ImageConfig["Healthcheck"]> {
  if (arg.toUpperCase() === "NONE") return { Test: ["NONE"] };
  const h: NonNullable<ImageConfig["Healthcheck"]> = {};
  let rest = arg;
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    rest = rest.slice(m[0].length);
    const [, opt, value] = m as unknown as [string, string, string];
    if (opt === "retries") {
      if (!/^\d+$/.test(value)) throw new Error(`HEALTHCHECK --retries: ${JSON.stringify(value)} is not a whole number`);
      h.Retries = Number(value);
      continue;
    }
    const ms = parseGoDuration(value);
    if (ms === null) throw new Error(`HEALTHCHECK --${opt}: ${JSON.stringify(value)} is not a duration (e.g. 30s)`);
    if (opt === "interval") h.Interval = ms * 1e6;
    else if (opt === "timeout") h.Timeout = ms * 1e6;
    else if (opt === "start-period") h.StartPeriod = ms * 1e6;
    else throw new Error(`HEALTHCHECK: unknown option --${opt} (interval, timeout, start-period, retries)`);
  }
  const cmd = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!cmd) throw new Error(`HEALTHCHECK: expected CMD COMMAND or NONE, got ${JSON.stringify(rest)}`);
  const list = jsonArray(cmd[1]!.trim());
  h.Test = list ? ["CMD", ...list] : ["CMD-SHELL", cmd[1]!.trim()];
  return h;
}

function jsonArray(s: string): string[] | null {
  if (!s.startsWith("[")) return null;
  try {
    const v = JSON.parse(s) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  } catch {
    // not JSON: shell form
  }
  return null;
}

/** Splits `a=1 "b c"=2` style key/value lists (ENV, LABEL); the old `ENV KEY value` form too. */
function keyValues(s: string, instr: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const tokens: string[] = [];
  let cur = "", quote: string | null = null, any = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (ch === "\\" && i + 1 < s.length) {
      cur += s[++i];
    } else if (/\s/.test(ch)) {
      if (cur || any) tokens.push(cur);
      cur = "";
      any = false;
    } else cur += ch;
  }
  if (cur || any) tokens.push(cur);
  if (tokens.length && !tokens[0]!.includes("=")) {
    // legacy form: ENV KEY the rest is the value
    const [k, ...rest] = s.trim().split(/\s+/);
    return [[k!, s.trim().slice(k!.length).trim()]].filter(() => rest.length > 0) as Array<[string, string]>;
  }
  for (const t of tokens) {
    const eq = t.indexOf("=");
    if (eq <= 0) throw new Error(`${instr}: expected KEY=VALUE, got ${JSON.stringify(t)}`);
    out.push([t.slice(0, eq), t.slice(eq + 1)]);
  }
  return out;
}

/** Applies Dockerfile-style changes to a copy of config. Unknown instructions are an error. */
export function applyChanges(config: ImageConfig, changes: readonly string[]): ImageConfig {
  const c: ImageConfig = structuredClone(config);
  for (const raw of changes) {
    const line = raw.trim();
    const m = /^(\w+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`--change ${JSON.stringify(raw)}: expected "INSTRUCTION arguments"`);
    const instr = m[1]!.toUpperCase();
    const arg = m[2]!.trim();
    switch (instr) {
      case "CMD":
      case "ENTRYPOINT": {
        const v = jsonArray(arg) ?? ["/bin/sh", "-c", arg];
        if (instr === "CMD") c.Cmd = v;
        else {
          c.Entrypoint = v;
          c.Cmd = null; // as docker: a new ENTRYPOINT resets an inherited CMD
        }
        break;
      }
      case "ENV": {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(arg, "ENV")) {
          const i = env.findIndex((e) => e.startsWith(k + "="));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case "LABEL":
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues(arg, "LABEL")) };
        break;
      case "EXPOSE": {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of arg.split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw new Error(`EXPOSE: bad port ${JSON.stringify(p)} (use PORT[/tcp|udp|sctp])`);
          ports[p.includes("/") ? p : `${p}/tcp`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const vols = { ...(c.Volumes ?? {}) };
        for (const v of jsonArray(arg) ?? arg.split(/\s+/)) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case "USER": c.User = arg; break;
      case "WORKDIR": c.WorkingDir = arg.startsWith("/") ? arg : `${c.WorkingDir ?? "/"}/${arg}`.replace(/\/+/g, "/"); break;
      case "STOPSIGNAL": c.StopSignal = arg; break;
      case "ONBUILD": c.OnBuild = [...(c.OnBuild ?? []), arg]; break;
      case "HEALTHCHECK": c.Healthcheck = healthcheck(arg); break;
      default:
        throw new Error(`--change: ${instr} is not supported (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`);
    }
  }
  return c;
}
