// Hooks the runtime runs itself, in the runtime's namespaces: prestart, createRuntime,
// poststart, poststop. Each gets the state JSON on stdin; a timeout kills it.
import type { Hook, State } from "../oci/spec.ts";

export class HookError extends Error {}

/** A failure reads as runc's (1.1 and 1.2 alike): "error running STAGE hook #INDEX: error running
 *  hook PATH: exit status N". */
export async function runHook(stage: string, hook: Hook, state: State, index = 0): Promise<void> {
  const what = `error running ${stage} hook #${index}: error running hook ${hook.path}`;
  const args = hook.args?.length ? hook.args : [hook.path];
  let proc;
  try {
    proc = Bun.spawn({ cmd: [hook.path, ...args.slice(1)], argv0: args[0], env: Object.fromEntries((hook.env ?? []).map((e) => {
      const i = e.indexOf("=");
      return [e.slice(0, i), e.slice(i + 1)];
    })), stdin: new Blob([JSON.stringify(state)]), stdout: "inherit", stderr: "pipe" });
  } catch (e) {
    throw new HookError(`${what}: ${(e as Error).message}`);
  }
  let timedOut = false;
  const timer = hook.timeout ? setTimeout(() => { timedOut = true; proc.kill(9); }, hook.timeout * 1000) : undefined;
  const code = await proc.exited;
  if (timer) clearTimeout(timer);
  if (timedOut) throw new HookError(`${what}: timed out after ${hook.timeout}s`);
  if (code !== 0) {
    const stderr = (await new Response(proc.stderr).text()).trim();
    throw new HookError(`${what}: exit status ${code}${stderr ? `: ${stderr}` : ""}`);
  }
}

export async function runHooks(stage: string, hooks: Hook[] | undefined, state: State): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) await runHook(stage, hook, state, i);
}

/** poststop: failures are warnings, the lifecycle goes on (runtime-spec). poststart failures
 *  fail `start` as in runc 1.2 (start.ts). */
export async function runHooksWarnOnly(stage: string, hooks: Hook[] | undefined, state: State, warn: (msg: string) => void): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) {
    try {
      await runHook(stage, hook, state, i);
    } catch (e) {
      warn((e as Error).message);
    }
  }
}
