// Registry credentials in docker's config.json format, so an existing `docker login` is reused and
// docker reads what `berth login` writes: { "auths": { "HOST": { "auth": base64("user:password") } } }
// in $DOCKER_CONFIG/config.json, else ~/.docker/config.json. Other keys in the file are kept as they are.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Credentials {
  username: string;
  password: string;
}

/** docker keeps Docker Hub's credentials under its v1 index URL. */
const HUB_KEY = "https://index.docker.io/v1/";

export function configPath(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(process.env.HOME || os.homedir(), ".docker");
  return path.join(dir, "config.json");
}

/** The key a registry host has in `auths`. */
export function authKey(host: string): string {
  return host === "docker.io" || host === "registry-1.docker.io" || host === "index.docker.io" ? HUB_KEY : host;
}

function readConfig(): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(configPath(), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch (e) {
    throw new Error(`${configPath()}: not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

/** Host names as docker writes them may carry a scheme or a path ("https://host/v1/"). */
function hostOfKey(key: string): string {
  return key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}

export function lookupCredentials(host: string): Credentials | null {
  const auths = readConfig().auths;
  if (!auths || typeof auths !== "object") return null;
  const want = hostOfKey(authKey(host));
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    if (hostOfKey(key) !== want || !entry || typeof entry !== "object") continue;
    const e = entry as Record<string, unknown>;
    if (typeof e.auth === "string" && e.auth) {
      const plain = Buffer.from(e.auth, "base64").toString("utf8");
      const i = plain.indexOf(":");
      if (i > 0) return { username: plain.slice(0, i), password: plain.slice(i + 1) };
    }
    if (typeof e.username === "string" && typeof e.password === "string") return { username: e.username, password: e.password };
  }
  return null;
}

function writeConfig(cfg: Record<string, unknown>): void {
  const file = configPath();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(cfg, null, "\t") + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file); // a reader never sees half a file
}

export function storeCredentials(host: string, creds: Credentials): void {
  const cfg = readConfig();
  const auths = (cfg.auths && typeof cfg.auths === "object" ? cfg.auths : {}) as Record<string, unknown>;
  auths[authKey(host)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") };
  cfg.auths = auths;
  writeConfig(cfg);
}

/** Returns whether there was anything to remove. */
export function removeCredentials(host: string): boolean {
  const cfg = readConfig();
  const auths = cfg.auths as Record<string, unknown> | undefined;
  if (!auths || typeof auths !== "object") return false;
  const want = hostOfKey(authKey(host));
  const keys = Object.keys(auths).filter((k) => hostOfKey(k) === want);
  if (!keys.length) return false;
  for (const k of keys) delete auths[k];
  writeConfig(cfg);
  return true;
}
