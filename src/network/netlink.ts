// A small rtnetlink client: just the link, address and route operations a bridge network needs.
// Talking netlink directly (instead of spawning `ip` per step) keeps container setup well under
// a millisecond of kernel work; several requests go out in one send() and are acknowledged together.
import { AF_NETLINK, close, NETLINK_ROUTE, recv, send, SOCK_CLOEXEC, SOCK_RAW, socket } from "./ffi.ts";

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const IFLA_BRPORT_MODE = 4; // hairpin
const IFLA_AF_SPEC = 26;
const AF_INET6 = 10;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;

const RTA_GATEWAY = 5;
const RTA_OIF = 4;

const AF_INET = 2;
const IFF_UP = 0x1;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

const ERRNO_TEXT: Record<number, string> = {
  1: "EPERM (operation not permitted)", 2: "ENOENT (no such object)", 16: "EBUSY (busy)",
  17: "EEXIST (already exists)", 19: "ENODEV (no such device)", 22: "EINVAL (invalid argument)",
  34: "ERANGE (name too long?)", 95: "EOPNOTSUPP (not supported)", 101: "ENETUNREACH (gateway not reachable)",
};

export class NetlinkError extends Error {
  constructor(readonly op: string, readonly errno: number) {
    super(`netlink ${op}: ${ERRNO_TEXT[errno] ?? `errno ${errno}`}`);
  }
}

// ---- encoding ----

class Builder {
  private parts: Uint8Array[] = [];
  private size = 0;
  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    const pad = (4 - (bytes.length % 4)) % 4;
    if (pad) {
      this.parts.push(new Uint8Array(pad));
      this.size += pad;
    }
    return this;
  }
  attr(type: number, payload: Uint8Array): this {
    const h = new Uint8Array(4);
    const v = new DataView(h.buffer);
    v.setUint16(0, 4 + payload.length, true);
    v.setUint16(2, type, true);
    this.raw(h);
    // Padding belongs after the payload but is not counted in nla_len.
    return this.raw(payload);
  }
  nested(type: number, inner: Builder): this {
    // No NLA_F_NESTED: VETH_INFO_PEER carries an ifinfomsg header first and is rejected when flagged.
    return this.attr(type, inner.bytes());
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const enc = new TextEncoder();
const str = (s: string): Uint8Array => enc.encode(s + "\0");
function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}
function ipv4(addr: string): Uint8Array {
  const parts = addr.split(".").map(Number);
  return Uint8Array.from(parts);
}
function mac(addr: string): Uint8Array {
  return Uint8Array.from(addr.split(":").map((h) => parseInt(h, 16)));
}

function ifinfomsg(index = 0, up = false): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, 0); // AF_UNSPEC
  v.setInt32(4, index, true);
  v.setUint32(8, up ? IFF_UP : 0, true);
  v.setUint32(12, up ? IFF_UP : 0, true);
  return b;
}

function ifaddrmsg(prefixLen: number, index: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, AF_INET);
  v.setUint8(1, prefixLen);
  v.setUint8(3, RT_SCOPE_UNIVERSE);
  v.setUint32(4, index, true);
  return b;
}

function rtmsg(dstLen: number): Uint8Array {
  // struct rtmsg: eight u8 fields, then u32 rtm_flags.
  return Uint8Array.from([AF_INET, dstLen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0, 0, 0, 0]);
}

interface Request {
  op: string;
  type: number;
  flags: number;
  body: Uint8Array;
}

function frame(req: Request, seq: number): Uint8Array {
  const len = 16 + req.body.length;
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, req.type, true);
  v.setUint16(6, req.flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, 0, true);
  out.set(req.body, 16);
  return out;
}

// ---- requests ----

export interface VethSpec {
  hostName: string;
  bridgeIndex: number;
  peerName: string;
  peerNetnsFd: number;
  peerMac?: string;
  mtu?: number;
}

/** One veth pair: host end enslaved to the bridge and up, peer created (down) directly inside the container netns. */
export function newVeth(s: VethSpec): Request {
  // The peer cannot be created up (the kernel answers ENOTCONN); bring it up from inside the netns.
  const peer = new Builder().raw(ifinfomsg(0, false)).attr(IFLA_IFNAME, str(s.peerName));
  if (s.peerNetnsFd >= 0) peer.attr(IFLA_NET_NS_FD, u32(s.peerNetnsFd));
  if (s.peerMac) peer.attr(IFLA_ADDRESS, mac(s.peerMac));
  if (s.mtu) peer.attr(IFLA_MTU, u32(s.mtu));
  const data = new Builder().nested(VETH_INFO_PEER, peer);
  const info = new Builder().attr(IFLA_INFO_KIND, str("veth")).nested(IFLA_INFO_DATA, data);
  const b = new Builder().raw(ifinfomsg(0, true)).attr(IFLA_IFNAME, str(s.hostName));
  if (s.bridgeIndex > 0) b.attr(IFLA_MASTER, u32(s.bridgeIndex));
  if (s.mtu) b.attr(IFLA_MTU, u32(s.mtu));
  b.nested(IFLA_LINKINFO, info);
  return { op: `create veth ${s.hostName}/${s.peerName}`, type: RTM_NEWLINK, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body: b.bytes() };
}

export function newBridge(name: string, macAddr?: string): Request {
  const info = new Builder().attr(IFLA_INFO_KIND, str("bridge"));
  const b = new Builder().raw(ifinfomsg(0, true)).attr(IFLA_IFNAME, str(name));
  if (macAddr) b.attr(IFLA_ADDRESS, mac(macAddr));
  b.nested(IFLA_LINKINFO, info);
  return { op: `create bridge ${name}`, type: RTM_NEWLINK, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body: b.bytes() };
}

/** Bridge-port hairpin mode on `name` (a port of a bridge), by name so it can share a batch with the port's creation. */
export function setHairpin(name: string): Request {
  const slave = new Builder().attr(IFLA_BRPORT_MODE, Uint8Array.of(1));
  const info = new Builder().attr(IFLA_INFO_SLAVE_KIND, str("bridge")).nested(IFLA_INFO_SLAVE_DATA, slave);
  const b = new Builder().raw(ifinfomsg(0)).attr(IFLA_IFNAME, str(name)).nested(IFLA_LINKINFO, info);
  return { op: `set hairpin on ${name}`, type: RTM_NEWLINK, flags: NLM_F_REQUEST | NLM_F_ACK, body: b.bytes() };
}

/** No IPv6 link-local address (hence no DAD) on an interface; send before bringing it up. */
export function noIPv6Addresses(index: number): Request {
  const inet6 = new Builder().attr(IFLA_INET6_ADDR_GEN_MODE, Uint8Array.of(IN6_ADDR_GEN_MODE_NONE));
  const spec = new Builder().nested(AF_INET6, inet6);
  const b = new Builder().raw(ifinfomsg(index)).nested(IFLA_AF_SPEC, spec);
  return { op: `set addr_gen_mode none on ${index}`, type: RTM_NEWLINK, flags: NLM_F_REQUEST | NLM_F_ACK, body: b.bytes() };
}

export function setUp(index: number): Request {
  return { op: `set link ${index} up`, type: RTM_NEWLINK, flags: NLM_F_REQUEST | NLM_F_ACK, body: ifinfomsg(index, true) };
}

export function delLink(name: string): Request {
  const b = new Builder().raw(ifinfomsg(0)).attr(IFLA_IFNAME, str(name));
  return { op: `delete link ${name}`, type: RTM_DELLINK, flags: NLM_F_REQUEST | NLM_F_ACK, body: b.bytes() };
}

export function addAddress(index: number, addr: string, prefixLen: number, broadcast?: string): Request {
  const b = new Builder().raw(ifaddrmsg(prefixLen, index)).attr(IFA_LOCAL, ipv4(addr)).attr(IFA_ADDRESS, ipv4(addr));
  if (broadcast) b.attr(IFA_BROADCAST, ipv4(broadcast));
  return { op: `add address ${addr}/${prefixLen}`, type: RTM_NEWADDR, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body: b.bytes() };
}

export function addDefaultRoute(gateway: string, oifIndex: number): Request {
  const b = new Builder().raw(rtmsg(0)).attr(RTA_GATEWAY, ipv4(gateway)).attr(RTA_OIF, u32(oifIndex));
  return { op: `add default route via ${gateway}`, type: RTM_NEWROUTE, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body: b.bytes() };
}

// ---- socket ----

/** A NETLINK_ROUTE socket bound to the network namespace of the thread that opened it. */
export class Netlink {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly buf = new Uint8Array(65536);

  constructor() {
    this.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  }

  close(): void {
    close(this.fd);
  }

  /**
   * Sends all requests in one datagram and waits for every acknowledgement. Errors listed in
   * `tolerate` (e.g. ENODEV on delete) count as success. Throws the first real failure.
   */
  exec(reqs: Request[], tolerate: number[] = []): void {
    if (reqs.length === 0) return;
    const first = this.seq + 1;
    const frames = reqs.map((r) => frame(r, ++this.seq));
    const total = frames.reduce((n, f) => n + f.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const f of frames) {
      out.set(f, o);
      o += f.length;
    }
    send(this.fd, out);
    let pending = reqs.length;
    let failure: NetlinkError | null = null;
    while (pending > 0) {
      const n = recv(this.fd, this.buf);
      const v = new DataView(this.buf.buffer, 0, n);
      for (let off = 0; off + 16 <= n; ) {
        const len = v.getUint32(off, true);
        const type = v.getUint16(off + 4, true);
        const seq = v.getUint32(off + 8, true);
        if (type === NLMSG_ERROR && seq >= first && seq < first + reqs.length) {
          const err = -v.getInt32(off + 16, true);
          pending--;
          if (err !== 0 && !tolerate.includes(err) && !failure) failure = new NetlinkError(reqs[seq - first]!.op, err);
        }
        if (len < 16) break;
        off += (len + 3) & ~3;
      }
    }
    if (failure) throw failure;
  }

  /** The interface index of `name` in this socket's namespace, or null when there is none. */
  linkIndex(name: string): number | null {
    const body = new Builder().raw(ifinfomsg(0)).attr(IFLA_IFNAME, str(name)).bytes();
    const seq = ++this.seq;
    send(this.fd, frame({ op: "get link", type: RTM_GETLINK, flags: NLM_F_REQUEST, body }, seq));
    for (;;) {
      const n = recv(this.fd, this.buf);
      const v = new DataView(this.buf.buffer, 0, n);
      for (let off = 0; off + 16 <= n; ) {
        const len = v.getUint32(off, true);
        const type = v.getUint16(off + 4, true);
        if (v.getUint32(off + 8, true) === seq) {
          if (type === RTM_NEWLINK) return v.getInt32(off + 16 + 4, true);
          if (type === NLMSG_ERROR) {
            const err = -v.getInt32(off + 16, true);
            if (err === 19) return null; // ENODEV
            throw new NetlinkError(`get link ${name}`, err);
          }
          if (type === NLMSG_DONE) return null;
        }
        if (len < 16) break;
        off += (len + 3) & ~3;
      }
    }
  }
}
