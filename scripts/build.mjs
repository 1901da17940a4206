// The project's own install step (run by `npm ci` / `npm install`): makes sure the Bun binary
// that npm brought is usable, then compiles the C core with this machine's cc. Nothing is
// downloaded here. Plain Node so it runs before Bun is known to work.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, statSync, chmodSync } from "node:fs";
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

/** The CLIs start for every command: ship them precompiled to JSC bytecode (~20–30 ms less parsing).
 *  bin/* prefer the built files; BERTH_FROM_SOURCE=1 runs src/ directly (they are rebuilt by
 *  `npm run build` and `npm test`). */
function bundle(entry, name, bytecode = true) {
  const bun = join(root, "node_modules/bun/bin/bun.exe");
  execFileSync(bun, ["build", join(root, entry), "--target=bun", "--format=cjs", ...(bytecode ? ["--bytecode"] : []),
    "--minify-syntax", `--outdir=${join(root, "build/js")}`, `--entry-naming=${name}`], { stdio: ["ignore", "ignore", "inherit"] });
}

ensureBun();
buildNative();
// berth-runtime runs for every container start: compile it into one executable (Bun included,
// bytecode precompiled), which starts ~15 ms sooner than a script run by bun.
execFileSync(join(root, "node_modules/bun/bin/bun.exe"), ["build", "--compile", "--bytecode", "--minify-syntax",
  join(root, "src/cli/runtime/main.ts"), `--outfile=${join(root, "build/berth-runtime")}`], { stdio: ["ignore", "ignore", "inherit"] });
bundle("src/cli/berth/main.ts", "berth.js");
// The image store's hashing worker is started by file name, so it ships beside the bundle.
bundle("src/storage/blob-worker.ts", "blob-worker.js", false);
