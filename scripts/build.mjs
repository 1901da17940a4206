// The project's own install step (run by `npm ci` / `npm install`): makes sure the Bun binary
// that npm brought is usable, then compiles the C core with this machine's cc. Nothing is
// downloaded here. Plain Node so it runs before Bun is known to work.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, statSync, chmodSync, rmSync, readdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function ensureBun() {
  const shim = join(root, "node_modules/bun/bin/bun.exe");
  // Bun's own postinstall swaps its placeholder for the real binary; where npm did not run
  // dependency scripts, do that swap from the platform package ourselves.
  if (existsSync(shim) && statSync(shim).size > 1_000_000) return;
  const arch = process.arch === "arm64" ? "aarch64" : "x64";
  for (const pkg of [`@oven/bun-linux-${arch}`, `@oven/bun-linux-${arch}-baseline`]) {
    const real = join(root, "node_modules", pkg, "bin/bun");
    if (existsSync(real)) {
      copyFileSync(real, shim);
      chmodSync(shim, 0o755);
      return;
    }
  }
  throw new Error("berth build: the Bun binary is missing from node_modules; run `npm ci` again");
}

function buildNative() {
  if (!existsSync("/usr/include/seccomp.h")) {
    throw new Error("berth build: libseccomp headers are missing; install them with `apt-get install -y libseccomp-dev`");
  }
  execFileSync("make", ["-s", "-C", join(root, "native"), `OUT=${join(root, "build")}`], { stdio: "inherit" });
}

/** A hash of every source file: caches keyed by what the code does (the seccomp profile's plan
 *  records, src/runtime/seccomp-cache.ts) are not reused by a build whose code differs. */
function sourceHash() {
  const h = createHash("sha256");
  const files = readdirSync(join(root, "src"), { recursive: true }).map(String).sort();
  for (const f of files) {
    const path = join(root, "src", f);
    if (statSync(path).isFile()) h.update(f).update("\0").update(readFileSync(path)).update("\0");
  }
  return h.digest("hex");
}
const BUILD_ID = sourceHash();

/** Compiles a CLI into one executable (Bun included, bytecode precompiled, ~10 ms less start-up
 *  than bun running a bundle). bin/* are links to these. Extra
 *  entry points (workers) are embedded under /$bunfs/root/ by their path below src/.
 *  No .env or bunfig.toml from the working directory is loaded at start: a .env would otherwise
 *  land in process.env (as if the user had exported it: BERTH_TRACE, or a compose variable that
 *  then wins over --env-file), and looking for them costs every start a directory walk. */
function compile(entries, out, extra = []) {
  const bun = join(root, "node_modules/bun/bin/bun.exe");
  execFileSync(bun, ["build", "--compile", "--bytecode", "--minify-syntax", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", ...extra,
    "--define", `BERTH_BUILD_ID=${JSON.stringify(BUILD_ID)}`, "--root", join(root, "src"),
    ...entries.map((e) => join(root, e)), `--outfile=${join(root, "build", out)}`], { stdio: ["ignore", "ignore", "inherit"] });
}

ensureBun();
buildNative();
// berth-runtime runs for every container start, berth for every command. berth-runtime's
// commands are short and run their code once: JavaScriptCore's JIT would compile functions that
// never run again (and start its compiler threads' work) for nothing, so its tier-up thresholds
// start JIT_POLICY times higher (Bun.unsafe.setJITPolicy; a long-running command may lower it).
const JIT_POLICY = 10;
compile(["src/cli/runtime/main.ts"], "berth-runtime", [`--compile-jit-policy=${JIT_POLICY}`]);
// The image store's hashing worker is started by name: /$bunfs/root/storage/blob-worker.js (src/storage/blobs.ts).
compile(["src/cli/berth/main.ts", "src/storage/blob-worker.ts"], "berth");
rmSync(join(root, "build/js"), { recursive: true, force: true }); // the former bundles
