// An HTTP client for one registry (OCI distribution-spec / Docker registry v2): which scheme it
// speaks, authentication (anonymous, Bearer tokens from the realm a 401's WWW-Authenticate names,
// Basic), and redirects (followed on the same host; to another host only for a blob download
// over HTTPS, whose content is verified by digest anyway, and never with our credentials).
import * as fs from "node:fs";
import type { Credentials } from "./credentials.ts";
import { lookupCredentials } from "./credentials.ts";
import { isInsecure, type RegistryPolicy } from "./registries.ts";

export class RegistryError extends Error {
  constructor(message: string, readonly status = 0, readonly code = "") {
    super(message);
  }
}

export interface ClientOptions {
  policy: RegistryPolicy;
  /** false: this registry is insecure (HTTPS without verification, or plain HTTP); true: HTTPS,
   *  verified, even for a loopback registry; undefined: as the policy says */
  tlsVerify?: boolean;
  /** explicit credentials (login); otherwise the docker config file's */
  credentials?: Credentials | null;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A body factory: a request may be sent twice (after a 401). */
  body?: () => Uint8Array | Blob | string;
  /** repository scopes this request needs, e.g. "repository:library/busybox:pull" */
  scopes?: string[];
  /** a blob download: may follow a redirect to another host over HTTPS */
  blobDownload?: boolean;
  /** statuses the caller handles itself besides 2xx */
  accept?: number[];
  /** aborts the request, its body included (a download's idle timer) */
  signal?: AbortSignal;
}

const USER_AGENT = "berth/0.1 (registry client)";
const MAX_REDIRECTS = 5;
/** How long a registry may stay silent: before the headers of an answer, and between two pieces of a body. */
export const REGISTRY_TIMEOUT_MS = Number(process.env.BERTH_REGISTRY_TIMEOUT_MS) || 60_000;
const HEADERS_TIMEOUT_MS = REGISTRY_TIMEOUT_MS;

/** Docker Hub's API lives on a different host from its name in references. */
export function endpointHost(domain: string): string {
  return domain === "docker.io" || domain === "index.docker.io" ? "registry-1.docker.io" : domain;
}

let systemCa: string[] | null | undefined;
/** The system CA store (Debian's bundle) plus NODE_EXTRA_CA_CERTS: what HTTPS is verified against. */
function caBundle(): string[] | null {
  if (systemCa !== undefined) return systemCa;
  const out: string[] = [];
  for (const f of ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", process.env.NODE_EXTRA_CA_CERTS]) {
    if (!f) continue;
    try {
      out.push(fs.readFileSync(f, "utf8"));
    } catch {
      // not on this system
    }
  }
  systemCa = out.length ? out : null;
  return systemCa;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** WWW-Authenticate: Bearer realm="https://auth/token",service="registry",scope="repository:x:pull" */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?\s*/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export class RegistryClient {
  readonly endpoint: string;
  private base: string | null = null;
  private insecure: boolean;
  private creds: Credentials | null;
  private tokens = new Map<string, string>();
  private useBasic = false;

  constructor(readonly domain: string, opts: ClientOptions) {
    this.endpoint = endpointHost(domain);
    // --tls-verify given either way wins over the policy (true: HTTPS, verified, even on loopback)
    this.insecure = opts.tlsVerify !== undefined ? !opts.tlsVerify : isInsecure(domain, opts.policy);
    this.creds = opts.credentials !== undefined ? opts.credentials : lookupCredentials(domain);
  }

  /** "https://host" or, for an insecure registry that does not speak TLS, "http://host". */
  async baseUrl(): Promise<string> {
    if (this.base) return this.base;
    if (!this.insecure) return (this.base = `https://${this.endpoint}`);
    try {
      await fetch(`https://${this.endpoint}/v2/`, { tls: { rejectUnauthorized: false }, redirect: "manual", signal: AbortSignal.timeout(15_000) });
      this.base = `https://${this.endpoint}`;
    } catch {
      this.base = `http://${this.endpoint}`;
    }
    return this.base;
  }

  /** Insecure means this registry's own host: its token service or a CDN it redirects to elsewhere is verified. */
  private tlsFor(url: string): { rejectUnauthorized: boolean; ca?: string[] } | undefined {
    if (!url.startsWith("https:")) return undefined;
    if (this.insecure && new URL(url).host === this.endpoint) return { rejectUnauthorized: false };
    const ca = caBundle();
    return ca ? { rejectUnauthorized: true, ca } : undefined;
  }

  private authHeader(scopes: string[]): string | null {
    if (this.useBasic && this.creds) return `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString("base64")}`;
    const t = this.tokens.get(scopes.join(" "));
    return t ? `Bearer ${t}` : null;
  }

  /**
   * Sends a request to a path under /v2/ (or a full URL the registry gave, e.g. an upload Location).
   * A GET or HEAD that fails transiently (no connection, 5xx, 429) is sent again, twice at most;
   * a layer download retries itself, from where it broke (download.ts).
   */
  async request(method: string, pathOrUrl: string, o: RequestOptions = {}): Promise<Response> {
    const idempotent = (method === "GET" || method === "HEAD") && !o.blobDownload;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce(method, pathOrUrl, o);
      } catch (e) {
        if (!idempotent || attempt >= 3 || !isTransient(e) || o.signal?.aborted) throw e;
        await Bun.sleep(250 * attempt);
      }
    }
  }

  private async requestOnce(method: string, pathOrUrl: string, o: RequestOptions): Promise<Response> {
    const base = await this.baseUrl();
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${base}${pathOrUrl}`;
    const scopes = o.scopes ?? [];
    let res = await this.send(method, url, o, this.authHeader(scopes));
    if (res.status === 401) {
      const header = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel().catch(() => {});
      await this.authenticate(header, scopes);
      res = await this.send(method, url, o, this.authHeader(scopes));
      if (res.status === 401) {
        await res.body?.cancel().catch(() => {});
        throw new RegistryError(this.creds
          ? `unauthorized: ${this.domain} refused the credentials for ${this.creds.username}; check them with \`berth login ${this.domain}\``
          : `unauthorized: ${this.domain} requires authentication; run \`berth login ${this.domain}\` first`, 401, "UNAUTHORIZED");
      }
    }
    if ((res.status >= 200 && res.status < 300) || o.accept?.includes(res.status)) return res;
    throw await errorOf(res, `${method} ${new URL(url).pathname}`, this.domain);
  }

  /** Gets a token (or switches to Basic) as the challenge asks. */
  private async authenticate(header: string, scopes: string[]): Promise<void> {
    const c = parseChallenge(header);
    if (!c) throw new RegistryError(`${this.domain} answered 401 without a WWW-Authenticate challenge`, 401);
    if (c.scheme === "basic") {
      if (!this.creds) throw new RegistryError(`unauthorized: ${this.domain} requires authentication; run \`berth login ${this.domain}\` first`, 401, "UNAUTHORIZED");
      this.useBasic = true;
      return;
    }
    if (c.scheme !== "bearer") throw new RegistryError(`${this.domain} asks for ${c.scheme} authentication, which berth does not speak (Bearer and Basic only)`, 401);
    const realm = c.params.realm;
    if (!realm || !/^https?:\/\//.test(realm)) throw new RegistryError(`${this.domain}: the Bearer challenge has no usable realm (${JSON.stringify(realm)})`, 401);
    const u = new URL(realm);
    if (c.params.service) u.searchParams.set("service", c.params.service);
    const wanted = scopes.length ? scopes : c.params.scope ? [c.params.scope] : [];
    for (const s of wanted) u.searchParams.append("scope", s);
    const headers: Record<string, string> = { "user-agent": USER_AGENT };
    if (this.creds) headers.authorization = `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString("base64")}`;
    const res = await fetch(u.href, { headers, tls: this.tlsFor(u.href), redirect: "error" } as RequestInit);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw new RegistryError(this.creds ? `unauthorized: the token service of ${this.domain} refused the credentials of ${this.creds.username}` : `unauthorized: ${this.domain} requires authentication; run \`berth login ${this.domain}\` first`, 401, "UNAUTHORIZED");
    }
    if (!res.ok) throw await errorOf(res, `token request to ${u.host}`, this.domain);
    const body = (await res.json().catch(() => null)) as { token?: string; access_token?: string } | null;
    const token = body?.token ?? body?.access_token;
    if (typeof token !== "string" || !token) throw new RegistryError(`the token service of ${this.domain} answered without a token`);
    this.tokens.set(scopes.join(" "), token);
  }

  private async send(method: string, url: string, o: RequestOptions, auth: string | null): Promise<Response> {
    const origin = new URL(url).origin;
    let current = url;
    let sendAuth = auth;
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { "user-agent": USER_AGENT, ...o.headers };
      if (sendAuth) headers.authorization = sendAuth;
      let res: Response;
      // A registry that never answers must not hang the command; once the headers are in, the
      // body streams for as long as it takes (a big layer on a slow link).
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(new Error(`no answer within ${HEADERS_TIMEOUT_MS / 1000} s`)), HEADERS_TIMEOUT_MS);
      try {
        const signal = o.signal ? AbortSignal.any([ctl.signal, o.signal]) : ctl.signal;
        res = await fetch(current, { method, headers, body: o.body?.(), redirect: "manual", tls: this.tlsFor(current), signal } as RequestInit);
      } catch (e) {
        throw new RegistryError(`cannot reach ${this.domain} (${new URL(current).origin}): ${(e as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const loc = res.headers.get("location");
      await res.body?.cancel().catch(() => {});
      if (!loc) throw new RegistryError(`${this.domain} answered ${res.status} without a Location`);
      if (hops >= MAX_REDIRECTS) throw new RegistryError(`${this.domain}: too many redirects`);
      const next = new URL(loc, current);
      if (next.origin !== origin) {
        // A registry may keep its blobs elsewhere (a CDN); the content is checked against its
        // digest, but we neither downgrade to plain HTTP nor hand our credentials to that host.
        if (!o.blobDownload || next.protocol !== "https:") {
          throw new RegistryError(`${this.domain} redirected ${method} ${new URL(url).pathname} to another host (${next.origin}); refused: a registry may only send blob downloads elsewhere, and only over HTTPS`, res.status, "REDIRECT_REFUSED");
        }
        sendAuth = null;
      }
      current = next.href;
    }
  }
}

/** A broken connection, a timeout, a 5xx or a 429: worth another try; a refusal or a lie is not. */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof RegistryError) || e.code !== "") return false;
  return e.status === 0 || e.status === 429 || e.status >= 500;
}

/** The registry's error body ({"errors":[{code,message}]}) in a sentence. */
async function errorOf(res: Response, what: string, domain: string): Promise<RegistryError> {
  let detail = "";
  let code = "";
  try {
    const text = await res.text();
    const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const e = j.errors?.[0];
    if (e) {
      code = e.code ?? "";
      detail = `${(e.code ?? "").toLowerCase().replace(/_/g, " ")}${e.message ? `: ${e.message}` : ""}`;
    }
  } catch {
    // not JSON
  }
  return new RegistryError(`${domain}: ${what}: ${res.status} ${res.statusText}${detail ? ` (${detail})` : ""}`, res.status, code);
}
