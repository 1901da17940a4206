// Container IDs (64 hex digits, like docker's) and friendly random names (adjective_noun) for
// containers created without --name.
// Web Crypto's getRandomValues: loading node:crypto costs more than a whole `run` step.
function randomBytes(n: number): Buffer {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n)));
}

export function newContainerId(): string {
  return randomBytes(32).toString("hex");
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

const ADJECTIVES = [
  "amber", "brave", "calm", "dapper", "eager", "fancy", "gentle", "happy", "icy", "jolly", "keen", "lucid",
  "mellow", "nimble", "odd", "plucky", "quiet", "rapid", "sunny", "tidy", "upbeat", "vivid", "witty", "zesty",
  "bold", "crisp", "dreamy", "fearless", "gallant", "hardy", "loyal", "merry", "noble", "proud", "serene", "swift",
];

// Harbour words, fitting a container engine called berth.
const NOUNS = [
  "anchor", "barge", "buoy", "capstan", "clipper", "cove", "dinghy", "dock", "ferry", "galley", "harbor", "hull",
  "jetty", "keel", "lighthouse", "mast", "mooring", "pier", "quay", "rudder", "sail", "schooner", "skiff", "sloop",
  "tugboat", "wharf", "yacht", "lagoon", "marina", "tide", "current", "compass", "beacon", "cutter", "ketch", "oar",
];

function pick<T>(list: readonly T[]): T {
  return list[randomBytes(2).readUInt16BE(0) % list.length]!;
}

/** A random name; after a few collisions a numeric suffix is added, as docker does. */
export function randomName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = `${pick(ADJECTIVES)}_${pick(NOUNS)}`;
    const name = attempt < 5 ? base : `${base}${randomBytes(1)[0]! % 10}${attempt}`;
    if (!taken(name)) return name;
  }
  return `berth_${randomBytes(6).toString("hex")}`;
}

/** docker's rule for container names. */
export function validName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) && name.length <= 128;
}
