// Tiny runner so tests can call `berth cgroup …` as a separate process (as users would).
import { cgroupCommand } from "../../src/cli/berth/cgroup.ts";
process.exitCode = await cgroupCommand(process.argv.slice(2));
