// -it: a real pty in the container (the shell sees a terminal), input from ours, its exit code
// back; exec -it the same. Driven through script(1), which gives berth a terminal of its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BERTH, berth, cleanupRoot, engineRoot } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

function inTerminal(command: string, input: string): { code: number; out: string } {
  const r = Bun.spawnSync(["script", "-eqc", command, "/dev/null"], { stdin: Buffer.from(input), stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  return { code: r.exitCode ?? 255, out: r.stdout.toString() };
}

describe("terminals", () => {
  test("run -it gives the shell a pty and returns its exit code", () => {
    const r = inTerminal(`${BERTH} --root ${root} run -it --rm --network none busybox sh`, "echo answer=$((6*7))\rtty\rexit 5\r");
    expect(r.out).toContain("answer=42");
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(5);
  }, 180_000);

  test("ctrl-p ctrl-q detaches; attach comes back; exit ends it", async () => {
    // script(1) passes the keys through; berth must see them only after it attached.
    const detach = Bun.spawn(["script", "-eqc", `${BERTH} --root ${root} run -it --name det --network none busybox sh`, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(2000);
    detach.stdin.write("\x10\x11");
    await detach.stdin.flush();
    expect(await detach.exited).toBe(0);
    expect(berth(root, ["ps", "--format", "{{.Names}} {{.State}}"]).stdout).toBe("det running\n");
    const back = inTerminal(`${BERTH} --root ${root} attach det`, "exit 4\r");
    expect(back.code).toBe(4);
    expect(berth(root, ["ps", "-a", "--format", "{{.Names}} {{.State}}"]).stdout).toBe("det exited\n");
    expect(berth(root, ["rm", "det"]).code).toBe(0);
  }, 180_000);

  test("--detach-keys: the given sequence detaches, ctrl-p ctrl-q then goes to the container", async () => {
    const p = Bun.spawn(["script", "-eqc", `${BERTH} --root ${root} run -it --name det2 --detach-keys ctrl-a,x --network none busybox sh`, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    // Wait for the shell's prompt: berth is attached by then.
    const reader = p.stdout.getReader();
    let seen = "";
    const until = async (text: string) => {
      while (!seen.includes(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
    };
    await until("# ");
    p.stdin.write("\x10\x11echo still-$((40+2))\r");
    await p.stdin.flush();
    await until("still-42");
    p.stdin.write("\x01x");
    await p.stdin.flush();
    expect(await p.exited).toBe(0);
    expect(berth(root, ["ps", "--format", "{{.Names}} {{.State}}"]).stdout).toBe("det2 running\n");
    expect(berth(root, ["rm", "-f", "det2"]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--detach-keys", "ctrl-", "busybox", "true"]).stderr).toContain("Invalid detach keys (ctrl-) provided");
  }, 180_000);

  test("exec -it into a running container", () => {
    berth(root, ["run", "-d", "--name", "shellbox", "--network", "none", "busybox", "sleep", "60"]);
    const r = inTerminal(`${BERTH} --root ${root} exec -it shellbox sh`, "echo in=$(cat /proc/1/comm)\rexit 3\r");
    expect(r.out).toContain("in=sleep");
    expect(r.code).toBe(3);
    expect(berth(root, ["rm", "-f", "shellbox"]).code).toBe(0);
  }, 180_000);
});
