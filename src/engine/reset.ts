// `berth system reset`: every container removed (stopped first), then every network's kernel
// objects, rules, leases and files, as after a reboot-like clean-up. Images stay.
import type { Engine } from "./handle.ts";
import { engineNetworks } from "./network.ts";

export async function resetEngine(engine: Engine): Promise<{ containers: number }> {
  let containers = 0;
  for (const v of engine.list()) {
    await engine.remove(v.row.id, { force: true, volumes: true });
    containers++;
  }
  const mgr = await engineNetworks(engine);
  try {
    mgr.reset();
  } finally {
    mgr.close();
  }
  return { containers };
}
