/**
 * The nftables tables, chains and named sets of a network namespace, read over a NETLINK_NETFILTER socket instead of
 * an `nft -j list ruleset` process: discovery only needs to know which tables, chains and sets exist (to tell tables
 * that were there before vmnet from its own), and starting `nft` through `ip netns exec` costs more than the whole
 * read. The socket is created inside the namespace by a synchronous setns hop of the calling thread (`inNetns`), so
 * it talks to that namespace's nf_tables; the dump itself is then read from the calling thread's namespace.
 *
 * The wire format is nfnetlink (linux/netfilter/nfnetlink.h): a netlink header, a 4-byte `nfgenmsg` (family, version,
 * resource id) and attributes of linux/netfilter/nf_tables.h. Rules and set elements are not read.
 */
import koffi from "koffi";
import { assertNetnsName } from "./exec.ts";
import { libc } from "./libc.ts";
import { inNetns } from "./netns-sockets.ts";
import type { NftChain, NftFamily, NftHook, NftJson, NftListed, NftSet, NftTable } from "./nftables.ts";

// linux/socket.h, linux/netlink.h, linux/netfilter/nfnetlink.h, linux/netfilter/nf_tables.h.
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_NETFILTER = 12;
const EAGAIN = 11;
const SOCKADDR_NL_LEN = 12;

const NLMSG_HDRLEN = 16;
const NFGENMSG_LEN = 4;
const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLA_TYPE_MASK = 0x3fff;
const NFNL_SUBSYS_NFTABLES = 10;
const NFPROTO_UNSPEC = 0;
const NFNETLINK_V0 = 0;

/** nf_tables message types (`enum nf_tables_msg_types`) vmnet sends or reads. */
export const NftMsg = {
  NewTable: 0,
  GetTable: 1,
  NewChain: 3,
  GetChain: 4,
  NewSet: 9,
  GetSet: 10,
} as const;
export type NftMsg = (typeof NftMsg)[keyof typeof NftMsg];

/** The dump requests, each answered with one NEW message per object. */
type NftGet = typeof NftMsg.GetTable | typeof NftMsg.GetChain | typeof NftMsg.GetSet;
const ANSWER: Readonly<Record<NftGet, NftMsg>> = {
  [NftMsg.GetTable]: NftMsg.NewTable,
  [NftMsg.GetChain]: NftMsg.NewChain,
  [NftMsg.GetSet]: NftMsg.NewSet,
};

const TableAttr = { Name: 1, Flags: 2, Use: 3, Handle: 4 } as const;
const ChainAttr = { Table: 1, Handle: 2, Name: 3, Hook: 4, Policy: 5, Type: 7, Flags: 10 } as const;
const HookAttr = { HookNum: 1, Priority: 2, Dev: 3, Devs: 4 } as const;
const SetAttr = { Table: 1, Name: 2, Flags: 3, KeyType: 4, DataType: 6, Handle: 16 } as const;

/** `enum nft_table_flags`. */
export const NftTableFlag = { Dormant: 0x1, Owner: 0x2, Persist: 0x4 } as const;

const NFT_CHAIN_BINDING = 0x4;
const SetFlag = { Anonymous: 0x1, Constant: 0x2, Interval: 0x4, Map: 0x8, Timeout: 0x10, Eval: 0x20, Object: 0x40 };
const NFT_DATA_VERDICT = 0xffffff00;
const NF_ACCEPT = 1;

/** NFPROTO_* numbers of the nfgenmsg family byte. */
const FAMILIES: ReadonlyMap<number, NftFamily> = new Map([
  [1, "inet"],
  [2, "ip"],
  [3, "arp"],
  [5, "netdev"],
  [7, "bridge"],
  [10, "ip6"],
]);

/** Hook numbers per family: NF_INET_* for ip/ip6/inet/bridge (NF_BR_* share them), NF_NETDEV_*, NF_ARP_*. */
function hookName(family: NftFamily, num: number): NftHook | "egress" | undefined {
  if (family === "netdev") return (["ingress", "egress"] as const)[num];
  if (family === "arp") return (["input", "output"] as const)[num];
  return (["prerouting", "input", "forward", "output", "postrouting", "ingress"] as const)[num];
}

/**
 * nft's datatype names by its datatype number (nftables include/datatype.h `enum datatypes`), for the set key types
 * the kernel stores opaquely; concatenations pack one 6-bit number per member. Only types whose names were checked
 * against `nft -j list` output are here: a set of another type makes the listing {@link NftNetlinkErrorCode.Unsupported}.
 */
const DATATYPES: ReadonlyMap<number, string> = new Map([
  [1, "verdict"],
  [7, "ipv4_addr"],
  [8, "ipv6_addr"],
  [9, "ether_addr"],
  [10, "ether_type"],
  [12, "inet_proto"],
  [13, "inet_service"],
  [19, "mark"],
  [41, "ifname"],
]);
const TYPE_BITS = 6;

/** Why a netlink listing failed. */
export const NftNetlinkErrorCode = {
  /** The namespace does not exist, or cannot be opened or entered. */
  NetnsMissing: "netnsMissing",
  /** No NETLINK_NETFILTER socket could be made (no nfnetlink in this kernel, or not allowed). */
  SocketUnavailable: "socketUnavailable",
  /** The kernel answered with an error. */
  Kernel: "kernel",
  /** The answer could not be parsed. */
  Malformed: "malformed",
  /** The ruleset holds something this reader cannot show as `nft -j list` does (a datatype or hook it does not know). */
  Unsupported: "unsupported",
} as const;
export type NftNetlinkErrorCode = (typeof NftNetlinkErrorCode)[keyof typeof NftNetlinkErrorCode];

/** A netlink listing of nftables failed; `errno` is set for system call and kernel errors. */
export class NftNetlinkError extends Error {
  override readonly name = "NftNetlinkError";
  readonly code: NftNetlinkErrorCode;
  readonly errno: number | undefined;

  constructor(code: NftNetlinkErrorCode, message: string, options: { errno?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options.errno;
  }
}

/** A table as the kernel reports it. */
export interface NftTableInfo {
  readonly family: NftFamily;
  readonly name: string;
  readonly handle: number;
  /** `enum nft_table_flags` bits ({@link NftTableFlag}). */
  readonly flags: number;
  /** How many chains, sets and objects refer to the table. */
  readonly use: number;
}

/** A chain; `hook`, `prio`, `type` and `policy` only for base chains. */
export interface NftChainInfo {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly handle: number;
  readonly type?: string;
  readonly hook?: NftHook | "egress";
  readonly prio?: number;
  readonly policy?: "accept" | "drop";
  /** The device of a netdev base chain (the first, when several). */
  readonly dev?: string;
}

/** A named set or map (anonymous sets, which `nft list` does not show either, are left out). */
export interface NftSetInfo {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly handle: number;
  /** nft's key type name, or one name per member of a concatenation. */
  readonly type: string | readonly string[];
  /** The data type of a map (`verdict` for verdict maps). */
  readonly map?: string | readonly string[];
  /** nft's names of the set's flags: `constant`, `interval`, `timeout`, `dynamic`. */
  readonly flags: readonly string[];
}

/** The tables, chains and named sets of one namespace, each in the kernel's dump order. */
export interface NftInventory {
  readonly tables: readonly NftTableInfo[];
  readonly chains: readonly NftChainInfo[];
  readonly sets: readonly NftSetInfo[];
}

// ---- encoding and parsing (pure) -----------------------------------------------------------------------------------

/** The dump request for every object of one kind in every family: nlmsghdr + nfgenmsg(NFPROTO_UNSPEC). */
export function dumpRequest(msg: NftMsg, seq: number): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + NFGENMSG_LEN);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE((NFNL_SUBSYS_NFTABLES << 8) | msg, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt8(NFPROTO_UNSPEC, 16);
  b.writeUInt8(NFNETLINK_V0, 17);
  b.writeUInt16BE(0, 18);
  return b;
}

/** One nf_tables message of a dump: its family byte and attributes by type (nested ones unparsed). */
export interface NftMessage {
  readonly msg: number;
  readonly family: number;
  readonly attrs: ReadonlyMap<number, Buffer>;
}

/** Attributes (netlink TLVs, 4-byte aligned) by type; a later duplicate wins. */
export function parseAttributes(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) {
      throw new NftNetlinkError(NftNetlinkErrorCode.Malformed, `Cannot parse netlink attribute at offset "${off}"`);
    }
    out.set(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

/** The outcome of one datagram of a dump. */
export interface DumpChunk {
  readonly messages: NftMessage[];
  /** NLMSG_DONE was seen: the dump is complete. */
  readonly done: boolean;
}

/**
 * Parses one datagram of the answer to request `seq`: nf_tables messages, NLMSG_DONE (its error field set when the
 * dump failed part way) and NLMSG_ERROR (throws {@link NftNetlinkError} with the errno). Messages of other sequence
 * numbers are skipped.
 */
export function parseDumpChunk(buf: Buffer, seq: number): DumpChunk {
  const messages: NftMessage[] = [];
  let done = false;
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NftNetlinkError(NftNetlinkErrorCode.Malformed, `Cannot parse netlink message of length "${len}"`);
    }
    const type = buf.readUInt16LE(off + 4);
    const ofThisDump = buf.readUInt32LE(off + 8) === seq >>> 0;
    const body = buf.subarray(off + NLMSG_HDRLEN, off + len);
    off += (len + 3) & ~3;
    if (!ofThisDump || type === NLMSG_NOOP) continue;
    if (type === NLMSG_ERROR || type === NLMSG_DONE) {
      const error = body.length >= 4 ? body.readInt32LE(0) : 0;
      if (error < 0) {
        throw new NftNetlinkError(
          NftNetlinkErrorCode.Kernel,
          `The kernel refused the nftables dump with errno ${-error}`,
          {
            errno: -error,
          },
        );
      }
      // An NLMSG_ERROR with error 0 is an acknowledgement; a dump ends with NLMSG_DONE.
      if (type === NLMSG_DONE) done = true;
      continue;
    }
    if (type >> 8 !== NFNL_SUBSYS_NFTABLES || body.length < NFGENMSG_LEN) continue;
    messages.push({ msg: type & 0xff, family: body.readUInt8(0), attrs: parseAttributes(body.subarray(NFGENMSG_LEN)) });
  }
  return { messages, done };
}

function str(attrs: ReadonlyMap<number, Buffer>, type: number): string | undefined {
  const v = attrs.get(type);
  if (v === undefined) return undefined;
  const nul = v.indexOf(0);
  return v.toString("utf8", 0, nul < 0 ? v.length : nul);
}

function u32(attrs: ReadonlyMap<number, Buffer>, type: number): number | undefined {
  const v = attrs.get(type);
  return v === undefined || v.length < 4 ? undefined : v.readUInt32BE(0);
}

function u64(attrs: ReadonlyMap<number, Buffer>, type: number): number | undefined {
  const v = attrs.get(type);
  return v === undefined || v.length < 8 ? undefined : Number(v.readBigUInt64BE(0));
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new NftNetlinkError(NftNetlinkErrorCode.Malformed, `Missing ${what} in nftables dump`);
  return value;
}

function familyOf(m: NftMessage): NftFamily {
  const f = FAMILIES.get(m.family);
  if (f === undefined)
    throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Unknown nftables family "${m.family}"`);
  return f;
}

/** A NEWTABLE message as a table. */
export function decodeTable(m: NftMessage): NftTableInfo {
  return {
    family: familyOf(m),
    name: need(str(m.attrs, TableAttr.Name), "table name"),
    handle: need(u64(m.attrs, TableAttr.Handle), "table handle"),
    flags: u32(m.attrs, TableAttr.Flags) ?? 0,
    use: u32(m.attrs, TableAttr.Use) ?? 0,
  };
}

/** A NEWCHAIN message as a chain, or undefined for a binding chain (an anonymous `jump { }` body nft shows inline). */
export function decodeChain(m: NftMessage): NftChainInfo | undefined {
  if (((u32(m.attrs, ChainAttr.Flags) ?? 0) & NFT_CHAIN_BINDING) !== 0) return undefined;
  const family = familyOf(m);
  const table = need(str(m.attrs, ChainAttr.Table), "chain table");
  const name = need(str(m.attrs, ChainAttr.Name), "chain name");
  const base = { family, table, name, handle: need(u64(m.attrs, ChainAttr.Handle), "chain handle") };
  const hookAttr = m.attrs.get(ChainAttr.Hook);
  if (hookAttr === undefined) return base;
  const hook = parseAttributes(hookAttr);
  const num = need(u32(hook, HookAttr.HookNum), "hook number");
  const hookNamed = hookName(family, num);
  if (hookNamed === undefined) {
    throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Unknown hook "${num}" of ${family} chain "${name}"`);
  }
  const devs = hook.get(HookAttr.Devs);
  const dev = str(hook, HookAttr.Dev) ?? (devs === undefined ? undefined : str(parseAttributes(devs), 1));
  const policy = u32(m.attrs, ChainAttr.Policy);
  const type = str(m.attrs, ChainAttr.Type);
  return {
    ...base,
    ...(type === undefined ? {} : { type }),
    hook: hookNamed,
    prio: need(u32(hook, HookAttr.Priority), "hook priority") | 0,
    ...(policy === undefined ? {} : { policy: policy === NF_ACCEPT ? "accept" : "drop" }),
    ...(dev === undefined ? {} : { dev }),
  };
}

/** nft's name of a datatype number, one name per concatenated member. */
export function datatypeName(id: number): string | string[] {
  if (id === NFT_DATA_VERDICT) return "verdict";
  const members: string[] = [];
  for (let t = id; t > 0; t = Math.floor(t / (1 << TYPE_BITS))) {
    const name = DATATYPES.get(t % (1 << TYPE_BITS));
    if (name === undefined) {
      throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Unknown nftables datatype "${id}"`);
    }
    members.unshift(name);
  }
  if (members.length === 0) throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Unknown nftables datatype "0"`);
  return members.length === 1 ? (members[0] as string) : members;
}

/** A NEWSET message as a named set or map, or undefined for an anonymous set. */
export function decodeSet(m: NftMessage): NftSetInfo | undefined {
  const flags = u32(m.attrs, SetAttr.Flags) ?? 0;
  if ((flags & SetFlag.Anonymous) !== 0) return undefined;
  const family = familyOf(m);
  const table = need(str(m.attrs, SetAttr.Table), "set table");
  const name = need(str(m.attrs, SetAttr.Name), "set name");
  if ((flags & SetFlag.Object) !== 0) {
    throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Cannot show object map "${name}" of table "${table}"`);
  }
  const named: string[] = [];
  for (const [bit, n] of [
    [SetFlag.Constant, "constant"],
    [SetFlag.Interval, "interval"],
    [SetFlag.Timeout, "timeout"],
    [SetFlag.Eval, "dynamic"],
  ] as const) {
    if ((flags & bit) !== 0) named.push(n);
  }
  const isMap = (flags & SetFlag.Map) !== 0;
  return {
    family,
    table,
    name,
    handle: need(u64(m.attrs, SetAttr.Handle), "set handle"),
    type: datatypeName(need(u32(m.attrs, SetAttr.KeyType), "set key type")),
    ...(isMap ? { map: datatypeName(need(u32(m.attrs, SetAttr.DataType), "map data type")) } : {}),
    flags: named,
  };
}

const CHAIN_TYPES: readonly string[] = ["filter", "nat", "route"] satisfies readonly NonNullable<NftChain["type"]>[];

function chainType(c: NftChainInfo): NonNullable<NftChain["type"]> {
  if (c.type === undefined || !CHAIN_TYPES.includes(c.type)) {
    throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Unknown type "${c.type}" of chain "${c.name}"`);
  }
  return c.type as NonNullable<NftChain["type"]>;
}

/**
 * The inventory as `nft -j list ruleset` shows it, without rules, set elements and `metainfo`: table, chain, set and
 * map objects in nft's order (each table followed by its sets and maps, then its chains). Table flags are not part of
 * {@link NftTable} and are left out.
 */
export function inventoryListing(inv: NftInventory): NftJson<NftListed> {
  const out: NftListed[] = [];
  for (const t of inv.tables) {
    const table: NftTable = { family: t.family, name: t.name, handle: t.handle };
    out.push({ table });
    const mine = (o: { family: NftFamily; table: string }) => o.family === t.family && o.table === t.name;
    for (const s of inv.sets.filter(mine)) {
      const set: NftSet = {
        family: s.family,
        table: s.table,
        name: s.name,
        // NftSet.type is one string: a concatenation is written as in nft's text syntax, where nft -j prints an array.
        type: Array.isArray(s.type) ? s.type.join(" . ") : (s.type as string),
        handle: s.handle,
        ...(s.map === undefined ? {} : { map: Array.isArray(s.map) ? s.map.join(" . ") : (s.map as string) }),
        ...(s.flags.length === 0 ? {} : { flags: s.flags }),
      };
      out.push(s.map === undefined ? { set } : { map: set });
    }
    for (const c of inv.chains.filter(mine)) {
      if (c.hook === "egress") {
        throw new NftNetlinkError(NftNetlinkErrorCode.Unsupported, `Cannot show egress chain "${c.name}"`);
      }
      const chain: NftChain = {
        family: c.family,
        table: c.table,
        name: c.name,
        handle: c.handle,
        ...(c.type === undefined ? {} : { type: chainType(c) }),
        ...(c.hook === undefined ? {} : { hook: c.hook }),
        ...(c.prio === undefined ? {} : { prio: c.prio }),
        ...(c.policy === undefined ? {} : { policy: c.policy }),
        ...(c.dev === undefined ? {} : { dev: c.dev }),
      };
      out.push({ chain });
    }
  }
  return { nftables: out };
}

// ---- the socket ------------------------------------------------------------------------------------------------------

/** Options of {@link readNftInventory}. */
export interface NftNetlinkOptions {
  /** How long one dump may wait for the kernel's next datagram. Default 2000 ms. */
  readonly timeoutMs?: number;
}

let nextSeq = Math.floor(Math.random() * 0x7fffffff);

function openSocket(netns: string): number {
  assertNetnsName(netns);
  const c = libc();
  let opened: { fd: number; errno: number };
  try {
    opened = inNetns(netns, () => {
      const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
      // Read before the hop back: koffi keeps the errno of its last call, which would be the return setns(2).
      return { fd, errno: fd < 0 ? koffi.errno() : 0 };
    });
  } catch (e) {
    // open(2) of /run/netns/<netns> failing means there is no such namespace; anything later, that it was not entered.
    const verb = (e as NodeJS.ErrnoException).syscall === "open" ? "open" : "enter";
    throw new NftNetlinkError(NftNetlinkErrorCode.NetnsMissing, `Cannot ${verb} network namespace "${netns}"`, {
      cause: e,
    });
  }
  const { fd, errno } = opened;
  if (fd < 0) {
    throw new NftNetlinkError(
      NftNetlinkErrorCode.SocketUnavailable,
      `Cannot open a netfilter netlink socket in network namespace "${netns}": errno ${errno}`,
      { errno },
    );
  }
  return fd;
}

/** One dump on `fd`: sends the request and collects the answer until NLMSG_DONE. */
async function dump(fd: number, msg: NftGet, timeoutMs: number): Promise<NftMessage[]> {
  const c = libc();
  const seq = nextSeq++ >>> 0;
  const kernel = Buffer.alloc(SOCKADDR_NL_LEN);
  kernel.writeUInt16LE(AF_NETLINK, 0);
  const req = dumpRequest(msg, seq);
  if (c.sendto(fd, req, req.length, 0, kernel, kernel.length) < 0) {
    const errno = koffi.errno();
    throw new NftNetlinkError(NftNetlinkErrorCode.Kernel, `Cannot send the nftables dump request: errno ${errno}`, {
      errno,
    });
  }
  // The kernel fills at most 32 KiB per datagram (netlink_dump); a full buffer would mean a truncated one.
  const buf = Buffer.alloc(64 * 1024);
  const from = Buffer.alloc(SOCKADDR_NL_LEN);
  const fromLen = Buffer.alloc(4);
  const out: NftMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    fromLen.writeUInt32LE(SOCKADDR_NL_LEN, 0);
    const n = c.recvfrom(fd, buf, buf.length, from, fromLen);
    if (n < 0) {
      const errno = koffi.errno();
      if (errno !== EAGAIN) {
        throw new NftNetlinkError(NftNetlinkErrorCode.Kernel, `Cannot read the nftables dump: errno ${errno}`, {
          errno,
        });
      }
      // The kernel answers a dump within the send and each receive; waiting means a much busier kernel, not a peer.
      if (Date.now() > deadline) {
        throw new NftNetlinkError(
          NftNetlinkErrorCode.Kernel,
          `Timed out after ${timeoutMs} ms reading the nftables dump`,
        );
      }
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    if (n >= buf.length) {
      throw new NftNetlinkError(NftNetlinkErrorCode.Malformed, `Cannot read an nftables dump datagram of ${n} bytes`);
    }
    // Only the kernel (port 0) answers; anything else on the socket is not ours.
    if (from.readUInt32LE(4) !== 0) continue;
    // A copy: the parsed attributes are views into it, and `buf` is overwritten by the next datagram.
    const chunk = parseDumpChunk(Buffer.from(buf.subarray(0, n)), seq);
    out.push(...chunk.messages.filter((m) => m.msg === ANSWER[msg]));
    if (chunk.done) return out;
  }
}

/**
 * Reads the tables, chains and named sets of network namespace `netns` (`/run/netns/<netns>`) over one
 * NETLINK_NETFILTER socket made inside it: three dumps (GETTABLE, GETCHAIN, GETSET, every family). Throws
 * {@link NftNetlinkError}: `netnsMissing` when the namespace cannot be entered, `socketUnavailable` when the socket
 * cannot be made, `kernel`, `malformed` or `unsupported` for the dumps.
 */
export async function readNftInventory(netns: string, options: NftNetlinkOptions = {}): Promise<NftInventory> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const fd = openSocket(netns);
  try {
    const tables = (await dump(fd, NftMsg.GetTable, timeoutMs)).map(decodeTable);
    const chains = (await dump(fd, NftMsg.GetChain, timeoutMs)).flatMap((m) => decodeChain(m) ?? []);
    const sets = (await dump(fd, NftMsg.GetSet, timeoutMs)).flatMap((m) => decodeSet(m) ?? []);
    return { tables, chains, sets };
  } finally {
    libc().close(fd);
  }
}

/** {@link readNftInventory} as a listing ({@link inventoryListing}): what discovery needs in place of `nft list`. */
export async function listNftInNetns(netns: string, options: NftNetlinkOptions = {}): Promise<NftJson<NftListed>> {
  return inventoryListing(await readNftInventory(netns, options));
}
