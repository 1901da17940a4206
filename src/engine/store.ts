// Container records in SQLite (WAL): every change is one transaction, so a
// berth killed at any instant leaves either the old or the new row, and two berth processes
// never see a half-written one. Names are unique by a UNIQUE constraint, not by a check-then-insert.
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import type { HolderSource } from "../image/store.ts";
import { join } from "node:path";
import type { ContainerConfig, ContainerRow, StoredState } from "./types.ts";
import { EngineError, NotFoundError } from "./errors.ts";
import { ensureHeadroom } from "../storage/space.ts";

interface Row {
  id: string; name: string; state: string; created_at: number; pid: number; pid_start: string; monitor_pid: number;
  started_at: number; finished_at: number; exit_code: number | null; oom_killed: number; error: string;
  restart_count: number; stopped_by_user: number; config: string;
}

export interface VolumeRow {
  name: string;
  createdAt: number;
  labels: Record<string, string>;
  /** A volume made for an image's VOLUME or an unnamed -v: removed with its container by rm -v. */
  anonymous: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  pid INTEGER NOT NULL DEFAULT 0,
  pid_start TEXT NOT NULL DEFAULT '',
  monitor_pid INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  oom_killed INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  restart_count INTEGER NOT NULL DEFAULT 0,
  stopped_by_user INTEGER NOT NULL DEFAULT 0,
  config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volumes (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  anonymous INTEGER NOT NULL DEFAULT 0
);
`;

function toRow(r: Row): ContainerRow {
  return {
    id: r.id, name: r.name, state: r.state as StoredState, createdAt: r.created_at, pid: r.pid, pidStart: r.pid_start,
    monitorPid: r.monitor_pid, startedAt: r.started_at, finishedAt: r.finished_at, exitCode: r.exit_code,
    oomKilled: r.oom_killed !== 0, error: r.error, restartCount: r.restart_count, stoppedByUser: r.stopped_by_user !== 0,
    config: JSON.parse(r.config) as ContainerConfig,
  };
}

export type RowUpdate = Partial<Omit<ContainerRow, "id" | "createdAt">>;

const COLUMNS: Record<keyof RowUpdate, string> = {
  name: "name", state: "state", pid: "pid", pidStart: "pid_start", monitorPid: "monitor_pid", startedAt: "started_at",
  finishedAt: "finished_at", exitCode: "exit_code", oomKilled: "oom_killed", error: "error", restartCount: "restart_count",
  stoppedByUser: "stopped_by_user", config: "config",
};

export class ContainerStore {
  readonly db: Database;
  /** Bytes of dead commands' temporaries removed to make room before opening (a full disk). */
  readonly freedAtOpen: number;

  constructor(root: string) {
    mkdirSync(root, { recursive: true, mode: 0o711 });
    // On a full disk SQLite cannot even open (see storage/space.ts): make room first.
    this.freedAtOpen = ensureHeadroom(root);
    this.db = new Database(join(root, "containers.db"), { create: true });
    // WAL + synchronous=NORMAL: a killed berth never loses or tears a committed transaction (the
    // WAL is in the kernel's page cache); only a power cut may drop the last few, never corrupt.
    // busy_timeout first: switching to WAL takes a lock that another berth may hold right now.
    // wal_autocheckpoint: commands leave without closing (no checkpoint at close, see main.ts), and
    // each opener rebuilds the WAL index by reading the frames since the last checkpoint; a small
    // threshold keeps that read short (a run adds ~3 pages) at two fsyncs every dozen runs.
    this.db.exec("PRAGMA busy_timeout = 15000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 32; PRAGMA journal_size_limit = 1048576;");
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Inserts a new container; a taken name fails here, atomically. */
  insert(row: ContainerRow): void {
    try {
      this.db.query(`INSERT INTO containers (id, name, state, created_at, config) VALUES (?, ?, ?, ?, ?)`)
        .run(row.id, row.name, row.state, row.createdAt, JSON.stringify(row.config));
    } catch (e) {
      if (/UNIQUE constraint failed: containers.name/.test((e as Error).message)) {
        const other = this.byName(row.name);
        throw new EngineError(`Conflict. The container name "/${row.name}" is already in use by container "${other?.id ?? "?"}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
      throw e;
    }
  }

  /**
   * Inserts a container that takes a range of berth's subordinate ids (--userns=auto): the ranges
   * of the other rows are read and `place` picks a free one in the same IMMEDIATE transaction as
   * the insert, so two creates at once never take the same ids. A row's range is free again the
   * moment the row is deleted.
   */
  insertWithIdRange(row: ContainerRow, place: (taken: { offset: number; size: number }[]) => void): void {
    this.db.transaction(() => {
      const taken = this.db.query(`SELECT json_extract(config, '$.userns.range.offset') AS offset, json_extract(config, '$.userns.range.size') AS size
        FROM containers WHERE json_extract(config, '$.userns.mode') = 'auto'`).all() as { offset: number; size: number }[];
      place(taken);
      this.insert(row);
    }).immediate();
  }

  update(id: string, u: RowUpdate): void {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    for (const [k, v] of Object.entries(u) as [keyof RowUpdate, unknown][]) {
      if (v === undefined) continue;
      sets.push(`${COLUMNS[k]} = ?`);
      values.push(k === "config" ? JSON.stringify(v) : typeof v === "boolean" ? (v ? 1 : 0) : (v as string | number | null));
    }
    if (sets.length === 0) return;
    values.push(id);
    this.db.query(`UPDATE containers SET ${sets.join(", ")} WHERE id = ?`).run(...values);
  }

  /** `update` for a caller that holds the container's lock and its current row: returns the
   *  row as stored now without reading it back (and parsing its config) again. */
  updated(row: ContainerRow, u: RowUpdate): ContainerRow {
    this.update(row.id, u);
    return { ...row, ...(Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined)) as RowUpdate) };
  }

  exists(id: string): boolean {
    return this.db.query("SELECT 1 FROM containers WHERE id = ?").get(id) !== null;
  }

  /** Every container's ID, and nothing else of the rows (cheap for a sweep). */
  ids(): Set<string> {
    return new Set((this.db.query("SELECT id FROM containers").all() as { id: string }[]).map((r) => r.id));
  }

  /** Compare-and-set on the state, so two processes cannot both move a container on. */
  transition(id: string, from: StoredState[], u: RowUpdate & { state: StoredState }): boolean {
    // IMMEDIATE: a read that turns into a write must hold the write lock from the start, or a
    // concurrent writer makes SQLite fail it at once instead of waiting.
    return this.db.transaction(() => {
      const cur = this.get(id);
      if (!cur || !from.includes(cur.state)) return false;
      this.update(id, u);
      return true;
    }).immediate();
  }

  remove(id: string): void {
    this.db.query("DELETE FROM containers WHERE id = ?").run(id);
  }

  /** Containers (IDs) made from an image: they hold it against rmi and prune. */
  imageHolders(imageId: string): string[] {
    return (this.db.query("SELECT id FROM containers WHERE json_extract(config, '$.imageId') = ?").all(imageId) as { id: string }[]).map((r) => r.id);
  }

  heldImages(): Set<string> {
    return new Set((this.db.query("SELECT DISTINCT json_extract(config, '$.imageId') AS image FROM containers").all() as { image: string | null }[])
      .flatMap((r) => (r.image ? [r.image] : [])));
  }

  get(id: string): ContainerRow | null {
    const r = this.db.query("SELECT * FROM containers WHERE id = ?").get(id) as Row | null;
    return r ? toRow(r) : null;
  }

  byName(name: string): ContainerRow | null {
    const r = this.db.query("SELECT * FROM containers WHERE name = ?").get(name) as Row | null;
    return r ? toRow(r) : null;
  }

  nameTaken(name: string): boolean {
    return this.db.query("SELECT 1 FROM containers WHERE name = ?").get(name) !== null;
  }

  /** docker's lookup order: full ID, exact name, then a unique ID prefix. */
  find(ref: string): ContainerRow {
    const name = ref.startsWith("/") ? ref.slice(1) : ref;
    const exact = this.get(ref) ?? this.byName(name);
    if (exact) return exact;
    if (/^[0-9a-f]{1,63}$/.test(ref)) {
      const rows = this.db.query("SELECT * FROM containers WHERE id LIKE ? LIMIT 2").all(`${ref}%`) as Row[];
      if (rows.length > 1) throw new EngineError(`multiple containers found with provided prefix: ${ref}; give more of the ID`);
      if (rows.length === 1) return toRow(rows[0]!);
    }
    throw new NotFoundError("container", ref);
  }

  /** Oldest first (ps prints newest first). */
  list(): ContainerRow[] {
    return (this.db.query("SELECT * FROM containers ORDER BY created_at, id").all() as Row[]).map(toRow);
  }

  /** Rows not known to be at rest: the ones reconcile has to look at. */
  active(): ContainerRow[] {
    return (this.db.query("SELECT * FROM containers WHERE state NOT IN ('created', 'exited', 'dead')").all() as Row[]).map(toRow);
  }

  // ---- volumes ----

  insertVolume(v: VolumeRow): boolean {
    const r = this.db.query("INSERT OR IGNORE INTO volumes (name, created_at, labels, anonymous) VALUES (?, ?, ?, ?)")
      .run(v.name, v.createdAt, JSON.stringify(v.labels), v.anonymous ? 1 : 0);
    return r.changes > 0;
  }

  volume(name: string): VolumeRow | null {
    const r = this.db.query("SELECT * FROM volumes WHERE name = ?").get(name) as { name: string; created_at: number; labels: string; anonymous: number } | null;
    return r ? { name: r.name, createdAt: r.created_at, labels: JSON.parse(r.labels) as Record<string, string>, anonymous: r.anonymous !== 0 } : null;
  }

  volumes(): VolumeRow[] {
    return (this.db.query("SELECT name FROM volumes ORDER BY name").all() as { name: string }[]).map((r) => this.volume(r.name)!);
  }

  removeVolume(name: string): void {
    this.db.query("DELETE FROM volumes WHERE name = ?").run(name);
  }
}

/** The engine's containers as the image store's holder source, for commands that open the image
 *  store without an engine (berth rmi, image prune): read when asked, and only if the root has
 *  containers at all. */
export function containerHolders(root: string): HolderSource {
  let store: ContainerStore | null | undefined;
  const open = () => (store === undefined ? (store = existsSync(join(root, "containers.db")) ? new ContainerStore(root) : null) : store);
  return {
    holdersOf: (imageId) => open()?.imageHolders(imageId) ?? [],
    heldImages: () => open()?.heldImages() ?? new Set(),
  };
}
