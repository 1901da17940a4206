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

/** berth-runtime starts for every container: ship it as one bundle precompiled to JSC bytecode,
 *  which saves ~20 ms of parsing per command. bin/berth-runtime prefers it; BERTH_FROM_SOURCE=1
 *  runs src/ directly (the bundle is rebuilt by every `npm run build` and `npm test`). */
function bundleRuntimeCli() {
  const bun = join(root, "node_modules/bun/bin/bun.exe");
  execFileSync(bun, ["build", join(root, "src/cli/runtime/main.ts"), "--target=bun", "--format=cjs", "--bytecode",
    "--minify-syntax", `--outdir=${join(root, "build/js")}`, "--entry-naming=berth-runtime.js"], { stdio: ["ignore", "ignore", "inherit"] });
}

ensureBun();
buildNative();
bundleRuntimeCli();
