// `compose config`: the model as berth will run it — merged, interpolated, env_file read into
// environment, names resolved — as YAML or JSON.
import type { ProjectModel } from "./model.ts";

type Raw = Record<string, unknown>;

export function configDocument(p: ProjectModel): Raw {
  const doc = structuredClone(p.document);
  const services = (doc.services ?? {}) as Record<string, Raw>;
  for (const s of p.services) {
    const raw = services[s.name];
    if (!raw) continue;
    delete raw.env_file;
    if (Object.keys(s.environment).length) raw.environment = s.environment;
    if (s.build) raw.build = { context: s.build.context, ...(s.build.dockerfile ? { dockerfile: s.build.dockerfile } : {}), ...(Object.keys(s.build.args).length ? { args: s.build.args } : {}), ...(s.build.target ? { target: s.build.target } : {}), ...(Object.keys(s.build.labels).length ? { labels: s.build.labels } : {}) };
    if (s.command) raw.command = s.command;
    if (s.entrypoint) raw.entrypoint = s.entrypoint;
    if (s.ports.length) {
      raw.ports = s.ports.map((pm) => ({
        mode: "ingress", host_ip: pm.hostIp === "0.0.0.0" ? undefined : pm.hostIp, target: pm.container,
        published: pm.host ? (pm.host.from === pm.host.to ? String(pm.host.from) : `${pm.host.from}-${pm.host.to}`) : undefined, protocol: pm.proto,
      })).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
    if (s.volumes.length) raw.volumes = s.volumes.map((v) => ({ type: v.type, ...(v.source ? { source: v.source } : {}), target: v.target, ...(v.readOnly ? { read_only: true } : {}) }));
    if (!s.networkMode) raw.networks = Object.fromEntries(Object.entries(s.networks).map(([k, n]) => [k, n.aliases.length ? { aliases: n.aliases } : null]));
    if (Object.keys(s.dependsOn).length) raw.depends_on = Object.fromEntries(Object.entries(s.dependsOn).map(([k, d]) => [k, { condition: d.condition, required: d.required, restart: d.restart }]));
  }
  // Services a profile left out are not part of the model.
  for (const k of Object.keys(services)) if (!p.services.some((s) => s.name === k)) delete services[k];
  if (p.networks.length) doc.networks = Object.fromEntries(p.networks.map((n) => [n.key, { name: n.name, ...(n.external ? { external: true } : {}), ...(n.internal ? { internal: true } : {}) }]));
  if (p.volumes.length) doc.volumes = Object.fromEntries(p.volumes.map((v) => [v.key, { name: v.name, ...(v.external ? { external: true } : {}) }]));
  return doc;
}
