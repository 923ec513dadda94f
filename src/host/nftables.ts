/**
 * nftables through libnftables' JSON schema (libnftables-json(5)): typed builders for the pieces vmnet uses, and an
 * {@link Nftables} adapter that loads a whole ruleset as ONE atomic transaction (`nft -j -f <file>`, one process).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Executor, HostCommandError, hostExecutor } from "./exec.ts";

/** A JSON value as libnftables reads and prints it. */
export type NftValue = string | number | boolean | null | readonly NftValue[] | { readonly [key: string]: NftValue };

/** An expression or statement object, e.g. `{ counter: null }` or `{ match: { ... } }`. */
export type NftExpr = { readonly [key: string]: NftValue };

/** Address families of nftables tables. */
export type NftFamily = "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev";

/** A table object. */
export interface NftTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly handle?: number;
}

/** Hooks of base chains. */
export type NftHook = "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress";

/** A chain object; `type`, `hook`, `prio` (and `policy`) only for base chains. */
export interface NftChain {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly handle?: number;
  readonly type?: "filter" | "nat" | "route";
  readonly hook?: NftHook;
  readonly prio?: number;
  readonly policy?: "accept" | "drop";
  /** The device of a netdev `ingress` base chain. */
  readonly dev?: string;
}

/** A rule object. */
export interface NftRule {
  readonly family: NftFamily;
  readonly table: string;
  readonly chain: string;
  readonly expr: readonly NftExpr[];
  readonly handle?: number;
  readonly comment?: string;
}

/** A named set (`map` present makes it a map). */
export interface NftSet {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly type: string;
  readonly map?: string;
  readonly flags?: readonly string[];
  readonly elem?: readonly NftValue[];
  readonly handle?: number;
}

/** An `add element` payload. */
export interface NftElement {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly elem: readonly NftValue[];
}

/** One ruleset object (also what `nft -j list` prints, plus `metainfo`). */
export type NftObject =
  | { readonly table: NftTable }
  | { readonly chain: NftChain }
  | { readonly rule: NftRule }
  | { readonly set: NftSet }
  | { readonly map: NftSet }
  | { readonly element: NftElement };

/** A chain, set or map named without its definition, as `flush` and `delete` take it. */
export interface NftRef {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly handle?: number;
}

/**
 * What `delete` removes and `flush` empties: a table (with everything in it / its chains' rules), a chain (with its
 * rules / its rules), a set or map (with its elements / its elements).
 */
export type NftTarget =
  | { readonly table: NftTable }
  | { readonly chain: NftRef }
  | { readonly set: NftRef }
  | { readonly map: NftRef };

/** One command of a transaction. */
export type NftCommand =
  | { readonly add: NftObject }
  | { readonly create: NftObject }
  | { readonly delete: NftTarget }
  | { readonly flush: NftTarget | { readonly ruleset: null } };

/** A listed object, including the `metainfo` header. */
export type NftListed = NftObject | { readonly metainfo: { readonly [key: string]: NftValue } };

/**
 * The top-level JSON document: a transaction to load (`NftJson<NftCommand>`, what the planner renders), a listing
 * (`NftJson<NftListed>`), or either.
 */
export interface NftJson<E extends NftCommand | NftListed = NftCommand | NftListed> {
  readonly nftables: readonly E[];
}

/** Why a transaction was refused (mapped from the kernel's errno text). */
export const NftFailure = {
  NotFound: "notFound",
  Exists: "exists",
  NotSupported: "notSupported",
  Invalid: "invalid",
  Busy: "busy",
  Unknown: "unknown",
} as const;
export type NftFailure = (typeof NftFailure)[keyof typeof NftFailure];

/** A transaction was refused; nothing of it was applied. */
export class NftApplyError extends Error {
  override readonly name = "NftApplyError";
  readonly reason: NftFailure;
  readonly retryable: boolean;

  constructor(reason: NftFailure, detail: string, cause?: unknown) {
    super(`Cannot apply nftables transaction: ${detail}`, cause === undefined ? undefined : { cause });
    this.reason = reason;
    this.retryable = reason === NftFailure.Busy;
  }
}

/** Maps nft's error text to a {@link NftFailure}. */
export function classifyNftFailure(stderr: string): NftFailure {
  if (/No such file or directory/i.test(stderr)) return NftFailure.NotFound;
  if (/File exists/i.test(stderr)) return NftFailure.Exists;
  if (/Operation not supported/i.test(stderr)) return NftFailure.NotSupported;
  if (/Device or resource busy|Resource temporarily unavailable/i.test(stderr)) return NftFailure.Busy;
  if (/Invalid argument|syntax error|Invalid|Could not parse/i.test(stderr)) return NftFailure.Invalid;
  return NftFailure.Unknown;
}

/** What the runtime needs from nftables in one namespace. */
export interface Nftables {
  /** Loads every command of `ruleset` as one transaction: all or nothing ({@link NftApplyError}). */
  apply(ruleset: NftJson): Promise<void>;
  /** The whole ruleset, as `nft -j list ruleset` prints it. */
  list(): Promise<NftJson<NftListed>>;
  /** Deletes one table with everything in it. */
  deleteTable(family: NftFamily, name: string): Promise<void>;
}

// ---- builders: commands --------------------------------------------------------------------------------------------

/** A transaction document from commands. */
export function ruleset(commands: readonly NftCommand[]): NftJson<NftCommand> {
  return { nftables: [...commands] };
}

/** Base-chain properties: `{ type nat hook prerouting priority -100; }`. */
export interface BaseChain {
  readonly type: "filter" | "nat" | "route";
  readonly hook: NftHook;
  readonly prio: number;
  readonly policy?: "accept" | "drop";
}

/** Options of a named set or map. */
export interface SetOptions {
  /** `interval` is needed for ranges. */
  readonly flags?: readonly ("interval" | "constant" | "timeout")[];
  readonly elem?: readonly NftValue[];
}

/** Builds the commands for one table; every command names the table's family and name. */
export interface NftTableBuilder {
  readonly family: NftFamily;
  readonly name: string;
  /** `add table`. */
  add(): NftCommand;
  /** `delete table` (with everything in it). */
  delete(): NftCommand;
  /** `flush table`: empties its chains; chains and sets stay. */
  flush(): NftCommand;
  /** `add chain`; with `base` a base chain, else a regular one (a jump target). */
  chain(name: string, base?: BaseChain): NftCommand;
  /** `add rule <chain> <expr...>`. */
  rule(chain: string, expr: readonly NftExpr[]): NftCommand;
  /** `add set` of `type` (e.g. `inet_service` for port lists, `ipv4_addr`). */
  set(name: string, type: string, options?: SetOptions): NftCommand;
  /** `add map` from `types.key` to `types.value`; elements are `[key, value]` pairs. */
  map(name: string, types: { readonly key: string; readonly value: string }, options?: SetOptions): NftCommand;
  /** `add element` to a named set or map. */
  element(name: string, elem: readonly NftValue[]): NftCommand;
}

function setBody(options: SetOptions) {
  return {
    ...(options.flags === undefined ? {} : { flags: [...options.flags] }),
    ...(options.elem === undefined ? {} : { elem: [...options.elem] }),
  };
}

/** The command builder of table `<family> <name>`. */
export function nftTable(family: NftFamily, name: string): NftTableBuilder {
  const table = name;
  return {
    family,
    name,
    add: () => ({ add: { table: { family, name } } }),
    delete: () => ({ delete: { table: { family, name } } }),
    flush: () => ({ flush: { table: { family, name } } }),
    chain: (chain, base) => ({
      add: {
        chain:
          base === undefined
            ? { family, table, name: chain }
            : {
                family,
                table,
                name: chain,
                type: base.type,
                hook: base.hook,
                prio: base.prio,
                policy: base.policy ?? "accept",
              },
      },
    }),
    rule: (chain, expr) => ({ add: { rule: { family, table, chain, expr: [...expr] } } }),
    set: (set, type, options = {}) => ({ add: { set: { family, table, name: set, type, ...setBody(options) } } }),
    map: (map, types, options = {}) => ({
      add: { map: { family, table, name: map, type: types.key, map: types.value, ...setBody(options) } },
    }),
    element: (set, elem) => ({ add: { element: { family, table, name: set, elem: [...elem] } } }),
  };
}

// ---- builders: expressions and statements --------------------------------------------------------------------------

/** `{ payload: { protocol, field } }`, e.g. `tcp dport`, `ip saddr`. */
export function payload(protocol: string, field: string): NftExpr {
  return { payload: { protocol, field } };
}

/** `{ meta: { key } }`, e.g. `iifname`, `l4proto`. */
export function meta(key: string): NftExpr {
  return { meta: { key } };
}

/** An anonymous set `{ a, b }`. */
export function anonSet(values: readonly NftValue[]): NftExpr {
  return { set: [...values] };
}

/** A range `a-b` (ports or addresses). */
export function range(from: NftValue, to: NftValue): NftExpr {
  return { range: [from, to] };
}

/** A named set or map reference `@name`. */
export function setRef(name: string): string {
  return `@${name}`;
}

/** A match statement `left op right`. */
export function match(left: NftExpr, right: NftValue, op: "==" | "!=" | "in" = "=="): NftExpr {
  return { match: { op, left, right } };
}

/** `iifname <name>`. */
export function iifname(name: string): NftExpr {
  return match(meta("iifname"), name);
}

/** `oifname <name>`. */
export function oifname(name: string): NftExpr {
  return match(meta("oifname"), name);
}

/** `<ip|ip6> saddr <value>`; value is an address, `anonSet`, `range` or `setRef`. */
export function saddr(family: "ip" | "ip6", value: NftValue): NftExpr {
  return match(payload(family, "saddr"), value);
}

/** `<ip|ip6> daddr <value>`. */
export function daddr(family: "ip" | "ip6", value: NftValue): NftExpr {
  return match(payload(family, "daddr"), value);
}

/** `<tcp|udp|sctp> dport <value>`; value is a port, `anonSet`, `range` or `setRef`. */
export function dport(protocol: string, value: NftValue): NftExpr {
  return match(payload(protocol, "dport"), value);
}

/** A map lookup `<key> map @name`, usable as a NAT address. */
export function mapLookup(key: NftExpr, name: string): NftExpr {
  return { map: { key, data: setRef(name) } };
}

/** `counter`. */
export function counter(): NftExpr {
  return { counter: null };
}

/** `jump <chain>`. */
export function jump(target: string): NftExpr {
  return { jump: { target } };
}

/** `goto <chain>`. */
export function goTo(target: string): NftExpr {
  return { goto: { target } };
}

/** `return`. */
export function ret(): NftExpr {
  return { return: null };
}

/** `accept`. */
export function accept(): NftExpr {
  return { accept: null };
}

/** `drop`. */
export function drop(): NftExpr {
  return { drop: null };
}

/** `masquerade`. */
export function masquerade(): NftExpr {
  return { masquerade: null };
}

/** NAT target options; `family` is required in `inet` tables (`snat ip to ...`). */
export interface NatOptions {
  readonly family?: "ip" | "ip6";
  readonly port?: number;
}

function nat(kind: "snat" | "dnat", addr: NftValue, options: NatOptions): NftExpr {
  return {
    [kind]: {
      addr,
      ...(options.family === undefined ? {} : { family: options.family }),
      ...(options.port === undefined ? {} : { port: options.port }),
    },
  };
}

/** `snat to <addr>`. */
export function snat(addr: NftValue, options: NatOptions = {}): NftExpr {
  return nat("snat", addr, options);
}

/** `dnat to <addr>`. */
export function dnat(addr: NftValue, options: NatOptions = {}): NftExpr {
  return nat("dnat", addr, options);
}

// ---- comparing listings --------------------------------------------------------------------------------------------

function strip(value: NftValue): NftValue {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, NftValue> = {};
  for (const [k, v] of Object.entries(value as { readonly [key: string]: NftValue })) {
    if (k === "handle") continue;
    out[k] = k === "counter" ? null : strip(v);
  }
  return out;
}

/** A listing without `metainfo`, handles and counter values, for comparing rulesets. */
export function canonicalListing(json: NftJson): NftValue[] {
  return json.nftables.filter((o) => !("metainfo" in o)).map((o) => strip(o as NftValue));
}

// ---- the real adapter ----------------------------------------------------------------------------------------------

/** The real {@link Nftables}: the `nft` CLI inside the named namespace (root namespace when undefined). */
export class NftCli implements Nftables {
  readonly #netns: string | undefined;
  readonly #executor: Executor;

  constructor(netns: string | undefined, options: { readonly executor?: Executor } = {}) {
    this.#netns = netns;
    this.#executor = options.executor ?? hostExecutor;
  }

  #opts() {
    return this.#netns === undefined ? {} : { netns: this.#netns };
  }

  async apply(rs: NftJson): Promise<void> {
    if (rs.nftables.length === 0) return;
    // `nft -f -` opens /dev/stdin by path, which fails with ENXIO on the socketpair Node gives a child as stdin, so
    // the transaction goes through a private temporary file instead.
    const dir = await mkdtemp(join(tmpdir(), "vmnt-nft-"));
    const file = join(dir, "ruleset.json");
    try {
      await writeFile(file, JSON.stringify(rs), { mode: 0o600 });
      // One `nft -f` input is one netlink batch: the kernel commits all of it or none of it.
      await this.#executor.run("nft", ["-j", "-f", file], this.#opts());
    } catch (e) {
      if (!(e instanceof HostCommandError) || e.exitCode < 0) throw e;
      const detail = e.stderr
        .split("\n")
        .map((l) => l.replace(/^internal:\d+:\d+-\d+: /, "").trim())
        .filter((l) => l !== "")
        .join("; ");
      throw new NftApplyError(classifyNftFailure(e.stderr), detail, e);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async list(): Promise<NftJson<NftListed>> {
    const { stdout } = await this.#executor.run("nft", ["-j", "list", "ruleset"], this.#opts());
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed !== "object" || parsed === null || !("nftables" in parsed) || !Array.isArray(parsed.nftables)) {
      throw new SyntaxError(`Cannot parse "nft -j list ruleset" output "${stdout.slice(0, 80)}"`);
    }
    return parsed as NftJson<NftListed>;
  }

  deleteTable(family: NftFamily, name: string): Promise<void> {
    return this.apply(ruleset([nftTable(family, name).delete()]));
  }
}
