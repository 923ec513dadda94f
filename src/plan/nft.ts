/**
 * nftables rulesets as data. vmnet loads a pod's whole ruleset in one atomic transaction (`nft -j -f -`), with port
 * lists in sets; the shapes below mirror libnftables' JSON (`meta`/`payload` left-hand sides, set references) so the
 * runtime translates them one to one. `renderNftText` prints the equivalent `nft -f` text for review and golden files.
 */
import type { NftCommand, NftExpr, NftJson, NftValue } from "../host/nftables.ts";

/** Table families vmnet uses. */
export const NftFamily = { Ip: "ip", Ip6: "ip6", Bridge: "bridge", Netdev: "netdev" } as const;
export type NftFamily = (typeof NftFamily)[keyof typeof NftFamily];

/** The left-hand side of a match: a meta key or a protocol header field. */
export type NftLeft =
  | { readonly meta: "iifname" | "oifname" | "protocol" }
  | {
      readonly payload: {
        readonly protocol: "ip" | "ip6" | "tcp" | "udp" | "ether" | "arp";
        readonly field: "saddr" | "daddr" | "sport" | "dport" | "saddr ip" | "saddr ether";
      };
    };

/** A set element: a value, a port range `[first, last]`, or an address prefix written `addr/len`. */
export type NftElement = string | number | { readonly range: readonly [number, number] };

/** The right-hand side of a match: one value, an anonymous set, or a named set of the same table (`@name`). */
export type NftRight = NftElement | { readonly set: readonly NftElement[] } | { readonly setRef: string };

/** One match expression. */
export interface NftMatch {
  readonly op: "==" | "!=";
  readonly left: NftLeft;
  readonly right: NftRight;
}

/** The terminal statement of a rule. */
export type NftVerdict =
  | { readonly kind: "masquerade" }
  | { readonly kind: "dnat"; readonly addr: string }
  | { readonly kind: "snat"; readonly addr: string }
  | { readonly kind: "jump"; readonly target: string }
  | { readonly kind: "return" }
  | { readonly kind: "accept" }
  | { readonly kind: "drop" };

/** One rule: matches (all must hold), an optional counter, a verdict. */
export interface NftRule {
  readonly matches: readonly NftMatch[];
  readonly counter: boolean;
  readonly verdict: NftVerdict;
}

/** A base chain's hook. `device` is required by netdev ingress chains. */
export interface NftHook {
  readonly type: "nat" | "filter";
  readonly hook: "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress";
  readonly priority: number;
  readonly device?: string;
  readonly policy: "accept" | "drop";
}

/** A chain: a base chain when `hook` is present, else a regular chain reached by `jump`. */
export interface NftChain {
  readonly name: string;
  readonly hook?: NftHook;
  readonly rules: readonly NftRule[];
}

/** A named set. `interval` is needed as soon as an element is a range or prefix. */
export interface NftSet {
  readonly name: string;
  readonly type: "inet_service" | "ipv4_addr" | "ipv6_addr" | "ether_addr";
  readonly interval: boolean;
  readonly elements: readonly NftElement[];
}

/** A table with its sets and chains, in creation order. */
export interface NftTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly sets: readonly NftSet[];
  readonly chains: readonly NftChain[];
}

/** A whole pod's ruleset, loaded as one transaction. */
export interface NftRuleset {
  readonly tables: readonly NftTable[];
}

function renderElement(e: NftElement): string {
  if (typeof e === "number") return String(e);
  if (typeof e === "string") return e;
  return `${e.range[0]}-${e.range[1]}`;
}

function renderLeft(l: NftLeft): string {
  if ("meta" in l) return l.meta === "protocol" ? "meta protocol" : l.meta;
  return `${l.payload.protocol} ${l.payload.field}`;
}

function renderRight(left: NftLeft, r: NftRight): string {
  if (typeof r === "object" && "set" in r) return `{ ${r.set.map(renderElement).join(", ")} }`;
  if (typeof r === "object" && "setRef" in r) return `@${r.setRef}`;
  // Interface names are strings in nft syntax; quoting keeps names like `net1` from being read as symbols.
  if ("meta" in left && left.meta !== "protocol") return `"${renderElement(r)}"`;
  return renderElement(r);
}

function renderVerdict(v: NftVerdict): string {
  switch (v.kind) {
    case "dnat":
    case "snat":
      return `${v.kind} to ${v.addr}`;
    case "jump":
      return `jump ${v.target}`;
    default:
      return v.kind;
  }
}

/** One rule as nft text, e.g. `iifname "eth0" counter jump KUBEVIRT_PREINBOUND`. */
export function renderNftRule(rule: NftRule): string {
  const parts = rule.matches.map(
    (m) => `${renderLeft(m.left)} ${m.op === "!=" ? "!= " : ""}${renderRight(m.left, m.right)}`,
  );
  if (rule.counter) parts.push("counter");
  parts.push(renderVerdict(rule.verdict));
  return parts.join(" ");
}

/** Prints the ruleset as `nft -f` text, tables in order, each with its sets then its chains. */
export function renderNftText(ruleset: NftRuleset): string {
  const out: string[] = [];
  for (const t of ruleset.tables) {
    out.push(`table ${t.family} ${t.name} {`);
    for (const s of t.sets) {
      out.push(`\tset ${s.name} {`, `\t\ttype ${s.type}`);
      if (s.interval) out.push("\t\tflags interval");
      if (s.elements.length > 0) out.push(`\t\telements = { ${s.elements.map(renderElement).join(", ")} }`);
      out.push("\t}");
    }
    for (const c of t.chains) {
      out.push(`\tchain ${c.name} {`);
      if (c.hook) {
        const dev = c.hook.device === undefined ? "" : ` device "${c.hook.device}"`;
        out.push(
          `\t\ttype ${c.hook.type} hook ${c.hook.hook}${dev} priority ${c.hook.priority}; policy ${c.hook.policy};`,
        );
      }
      for (const r of c.rules) out.push(`\t\t${renderNftRule(r)}`);
      out.push("\t}");
    }
    out.push("}");
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

interface TableState {
  readonly family: NftFamily;
  readonly name: string;
  readonly sets: NftSet[];
  readonly chains: { readonly chain: NftChain; readonly rules: NftRule[] }[];
}

/** Builds one table of a ruleset; obtained from {@link NftBuilder.table}. */
export class NftTableBuilder {
  /** @internal */
  constructor(private readonly state: TableState) {}

  /** Declares a chain (a base chain when `hook` is given); declaring it again keeps the first declaration. */
  chain(name: string, hook?: NftHook): this {
    if (!this.state.chains.some((x) => x.chain.name === name)) {
      this.state.chains.push({ chain: hook ? { name, hook, rules: [] } : { name, rules: [] }, rules: [] });
    }
    return this;
  }

  /** Declares a named set; declaring it again appends the new elements. */
  set(set: NftSet): this {
    const sets = this.state.sets;
    const i = sets.findIndex((s) => s.name === set.name);
    const prev = sets[i];
    if (prev) {
      sets[i] = { ...prev, interval: prev.interval || set.interval, elements: [...prev.elements, ...set.elements] };
    } else sets.push(set);
    return this;
  }

  /** Appends a rule to a chain declared before. */
  rule(chain: string, rule: NftRule): this {
    const c = this.state.chains.find((x) => x.chain.name === chain);
    if (!c) throw new RangeError(`Cannot add a rule to undeclared chain "${this.state.name} ${chain}"`);
    c.rules.push(rule);
    return this;
  }
}

/** Accumulates tables, sets, chains and rules in insertion order, merging repeated tables and chains by name. */
export class NftBuilder {
  private readonly tables: TableState[] = [];

  /** The builder of a table, created on first use. */
  table(family: NftFamily, name: string): NftTableBuilder {
    let t = this.tables.find((x) => x.family === family && x.name === name);
    if (!t) {
      t = { family, name, sets: [], chains: [] };
      this.tables.push(t);
    }
    return new NftTableBuilder(t);
  }

  /** The ruleset built so far. */
  build(): NftRuleset {
    return {
      tables: this.tables.map((t) => ({
        family: t.family,
        name: t.name,
        sets: [...t.sets],
        chains: t.chains.map((x) => ({ ...x.chain, rules: [...x.rules] })),
      })),
    };
  }
}

function jsonElement(e: NftElement): NftValue {
  if (typeof e === "object") return { range: [e.range[0], e.range[1]] };
  const slash = typeof e === "string" ? e.indexOf("/") : -1;
  if (typeof e === "string" && slash > 0) {
    return { prefix: { addr: e.slice(0, slash), len: Number.parseInt(e.slice(slash + 1), 10) } };
  }
  return e;
}

function jsonRight(r: NftRight): NftValue {
  if (typeof r === "object" && "set" in r) return { set: r.set.map(jsonElement) };
  if (typeof r === "object" && "setRef" in r) return `@${r.setRef}`;
  return jsonElement(r);
}

function jsonLeft(l: NftLeft): NftExpr {
  return "meta" in l
    ? { meta: { key: l.meta } }
    : { payload: { protocol: l.payload.protocol, field: l.payload.field } };
}

function jsonVerdict(v: NftVerdict): NftExpr {
  switch (v.kind) {
    case "dnat":
    case "snat":
      return { [v.kind]: { addr: v.addr } };
    case "jump":
      return { jump: { target: v.target } };
    default:
      return { [v.kind]: null };
  }
}

/**
 * The ruleset as one libnftables JSON transaction, in the host adapter's {@link NftJson} shape. Every chain and set is flushed right after it is (idempotently)
 * added, so loading the same plan twice leaves exactly one copy of each rule, and rules of other owners in a shared
 * table (`ip nat` under Istio) are untouched.
 */
export function renderNftJson(ruleset: NftRuleset): NftJson<NftCommand> {
  const cmds: NftCommand[] = [];
  for (const t of ruleset.tables) {
    const base = { family: t.family, table: t.name };
    cmds.push({ add: { table: { family: t.family, name: t.name } } });
    for (const s of t.sets) {
      const set = { ...base, name: s.name, type: s.type, ...(s.interval ? { flags: ["interval"] } : {}) };
      cmds.push({ add: { set } }, { flush: { set: { ...base, name: s.name } } });
      if (s.elements.length > 0) {
        cmds.push({ add: { element: { ...base, name: s.name, elem: s.elements.map(jsonElement) } } });
      }
    }
    for (const c of t.chains) {
      const hook = c.hook
        ? {
            type: c.hook.type,
            hook: c.hook.hook,
            prio: c.hook.priority,
            policy: c.hook.policy,
            ...(c.hook.device === undefined ? {} : { dev: c.hook.device }),
          }
        : {};
      cmds.push(
        { add: { chain: { ...base, name: c.name, ...hook } } },
        { flush: { chain: { ...base, name: c.name } } },
      );
    }
    for (const c of t.chains) {
      for (const r of c.rules) {
        const expr: NftExpr[] = r.matches.map((m) => ({
          match: { op: m.op, left: jsonLeft(m.left), right: jsonRight(m.right) },
        }));
        if (r.counter) expr.push({ counter: null });
        expr.push(jsonVerdict(r.verdict));
        cmds.push({ add: { rule: { ...base, chain: c.name, expr } } });
      }
    }
  }
  return { nftables: cmds };
}
