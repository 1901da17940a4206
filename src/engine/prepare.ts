// What one run of a container stands on: its root filesystem mounted (the image's snapshots under
// an overlay), its volumes, its /etc files for the network mode, and the OCI spec built from its
// config (spec.ts). start.ts calls it while the monitor and stage 0 start.
import { chownSync, existsSync } from "node:fs";
import type { Spec } from "../oci/spec.ts";
import { mountContainerRootfs } from "../storage/overlay.ts";
import { writeContainerFiles, writeHostNetworkFiles } from "../network/files.ts";
import { cachedDefaultSeccomp, seccompCacheDir } from "../runtime/seccomp-cache.ts";
import type { Engine } from "./handle.ts";
import { buildSpec } from "./spec.ts";
import { EngineError } from "./errors.ts";
import { namespaceSpec } from "./namespaces.ts";
import type { ContainerRow, UsernsConfig } from "./types.ts";
import { hostId } from "./userns.ts";
import type { UserNamespaceHolder } from "../sys/userns.ts";

/** Mounts, files and the OCI spec for one run of the container (its config.json is written later, see startLocked). */
export function prepare(engine: Engine, row: ContainerRow, consoleSize?: { height: number; width: number }, userns?: UserNamespaceHolder): Spec {
  const cfg = row.config;
  const img = engine.images.get(cfg.imageId as `sha256:${string}`);
  if (!img) throw new EngineError(`the image of container ${row.name} (${cfg.imageId}) is gone; remove the container`);
  const dir = engine.paths.container(row.id);
  // A user namespace of its own: the image's layers idmapped to it (storage/overlay.ts).
  const idmap = cfg.userns ? { uidMap: cfg.userns.uidMap, gidMap: cfg.userns.gidMap, ...(userns ? { holder: userns } : {}) } : undefined;
  const { rootfs } = mountContainerRootfs(engine.images.snapshotDirs(img), dir, { volatile: cfg.autoRemove, ...(idmap ? { idmap } : {}) });
  const volumeSources = new Map<string, string>();
  const rootOwner: [number, number] = cfg.userns ? [hostId(cfg.userns.uidMap, 0)!, hostId(cfg.userns.gidMap, 0)!] : [0, 0];
  for (const m of cfg.mounts) if (m.kind === "volume") volumeSources.set(m.destination, engine.volumes.mountSource(m.source, rootfs, m.destination, { rootOwner, copyUp: !m.noCopy }));
  for (const m of cfg.mounts) {
    if (m.kind === "bind" && !existsSync(m.source)) throw new EngineError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
  }
  let etcFiles;
  let netns: "new" | "host" | { path: string } = "new";
  if (cfg.network.startsWith("container:")) {
    // --network container:OTHER: its network namespace and its hosts/resolv.conf.
    const other = engine.store.get(cfg.network.slice("container:".length));
    if (!other || !engine.observe(other).running) throw new EngineError(`cannot join network of a non running container: ${cfg.network.slice(10, 22)}`);
    netns = { path: `/proc/${other.pid}/ns/net` };
    const dir = engine.paths.filesDir(other.id);
    etcFiles = { hosts: `${dir}/hosts`, hostname: `${dir}/hostname`, resolvConf: `${dir}/resolv.conf` };
  } else if (cfg.network === "host") {
    netns = "host";
    etcFiles = writeHostNetworkFiles(engine.paths.filesDir(row.id), cfg.hostname);
  } else {
    // Written now (the bridge setup rewrites them in place once the container has its address).
    etcFiles = writeContainerFiles(engine.paths.filesDir(row.id), {
      hostname: cfg.hostname, domainname: cfg.domainname, hosts: cfg.extraHosts ?? [], dns: cfg.dns ?? (cfg.network === "none" ? [] : undefined),
    });
  }
  if (cfg.userns && etcFiles && !cfg.network.startsWith("container:")) ownEtcFiles(etcFiles, cfg.userns);
  const cacheDir = seccompCacheDir(engine.runtime.root);
  const ns = namespaceSpec(engine, row);
  return buildSpec(cfg, { id: row.id, rootfs, etcFiles, volumeSources, netns, ns, consoleSize, defaultSeccomp: (caps) => cachedDefaultSeccomp(caps, cacheDir) });
}

/** The container's own /etc/hosts, hostname and resolv.conf belong to its root, as in a
 *  container without a user namespace (the files are this container's; docker chowns them too). */
function ownEtcFiles(files: { hosts: string; hostname: string; resolvConf: string }, userns: UsernsConfig): void {
  const uid = hostId(userns.uidMap, 0), gid = hostId(userns.gidMap, 0);
  if (uid === undefined || gid === undefined) return;
  for (const f of [files.hosts, files.hostname, files.resolvConf]) chownSync(f, uid, gid);
}
