// `berth rename`: a new name, unique like every name (the store's UNIQUE(name) decides races).
import type { Engine } from "./handle.ts";
import { EngineError, UsageError } from "./errors.ts";
import { validName } from "./names.ts";
import { recordContainerEvent } from "./events.ts";

export function renameContainer(engine: Engine, ref: string, name: string): void {
  const row = engine.find(ref);
  if (!validName(name)) throw new UsageError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (row.name === name) throw new EngineError(`Renaming a container with the same name as its current name`);
  if (engine.store.nameTaken(name)) throw new EngineError(`Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${engine.store.byName(name)!.id}". You have to remove (or rename) that container to be able to reuse that name.`);
  engine.store.update(row.id, { name });
  recordContainerEvent(engine.root, "rename", { ...row, name }, { oldName: `/${row.name}` });
}
