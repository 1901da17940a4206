// systemd socket activation (sd_listen_fds(3)): systemd, or `systemd-socket-activate`, binds the
// socket itself and starts the service with it open at fd 3 (then 4, ...), saying so in
// LISTEN_FDS, LISTEN_PID (this process, so a child that inherited the variables ignores them)
// and optionally LISTEN_FDNAMES (FileDescriptorName= of the .socket unit, ':'-separated).
import { fstatSync } from "node:fs";
import { ApiError } from "./http.ts";

/** The first fd passed, per the protocol. */
export const SD_LISTEN_FDS_START = 3;

export interface InheritedSocket {
  fd: number;
  /** Its LISTEN_FDNAMES entry ("unknown" when none was given, as sd_listen_fds_with_names says). */
  name: string;
}

/** The sockets systemd passed to this process (none when it was not socket-activated). Removes
 *  the variables from process.env, as sd_listen_fds(1) does, so children (exec) do not see them. */
export function inheritedSockets(env: NodeJS.ProcessEnv = process.env, pid = process.pid): InheritedSocket[] {
  const count = Number(env.LISTEN_FDS ?? "0");
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(count) || count <= 0) return [];
  return Array.from({ length: count }, (_, i) => ({ fd: SD_LISTEN_FDS_START + i, name: names[i] || "unknown" }));
}

/** The socket `--host fd://[NAME|FD]` means (Docker's spelling): the only one passed, the one
 *  with that FileDescriptorName, or that fd number. Checked to be a socket. */
export function chooseInherited(spec: string, sockets: InheritedSocket[]): InheritedSocket {
  if (sockets.length === 0) {
    throw new ApiError(400, `--host fd://${spec}: no socket was passed (LISTEN_FDS/LISTEN_PID unset or for another process); start the service from a systemd .socket unit or systemd-socket-activate`);
  }
  let found: InheritedSocket | undefined;
  if (spec === "") {
    if (sockets.length > 1) throw new ApiError(400, `--host fd://: ${sockets.length} sockets were passed (${sockets.map((s) => s.name).join(", ")}); name one with fd://NAME`);
    found = sockets[0];
  } else if (/^\d+$/.test(spec)) found = sockets.find((s) => s.fd === Number(spec));
  else found = sockets.find((s) => s.name === spec);
  if (!found) throw new ApiError(400, `--host fd://${spec}: no such passed socket (passed: ${sockets.map((s) => `${s.fd}=${s.name}`).join(", ")})`);
  if (!fstatSync(found.fd).isSocket()) throw new ApiError(400, `--host fd://${spec}: fd ${found.fd} is not a socket`);
  return found;
}
