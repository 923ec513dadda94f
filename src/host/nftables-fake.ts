/**
 * An in-memory {@link Nftables} for unit tests: applies transactions atomically with the kernel's main refusals
 * (missing table/chain/set, jump to a missing chain, ranges in a set without `interval`, NAT statements outside the
 * hooks that allow them) and lists the ruleset the way `nft -j list ruleset` does (single-element anonymous sets
 * collapsed, set elements sorted, counters as zero). The shared contract test keeps it honest against real `nft`.
 *
 * `flush` and `delete` take tables, chains, sets and maps with the kernel's semantics (a flushed chain keeps no rule, a
 * flushed set no element; a chain still jumped to, or a set still referred to, cannot be deleted).
 *
 * Not modelled: deleting rules or elements, base-chain redefinition, element type checking, set timeouts.
 */
import {
  NftApplyError,
  type Nftables,
  type NftChain,
  type NftCommand,
  type NftExpr,
  NftFailure,
  type NftFamily,
  type NftJson,
  type NftListed,
  type NftObject,
  type NftRef,
  type NftRule,
  type NftSet,
  type NftTarget,
  type NftValue,
  nftTable,
  ruleset,
} from "./nftables.ts";

interface SetState {
  readonly isMap: boolean;
  readonly def: NftSet;
  elem: NftValue[];
  readonly handle: number;
}

interface ChainState {
  readonly def: NftChain;
  readonly handle: number;
  rules: { readonly expr: readonly NftExpr[]; readonly handle: number }[];
}

interface TableState {
  readonly family: NftFamily;
  readonly name: string;
  readonly handle: number;
  nextHandle: number;
  sets: SetState[];
  chains: ChainState[];
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function isRecord(v: NftValue): v is { readonly [key: string]: NftValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(reason: NftFailure, detail: string): never {
  throw new NftApplyError(reason, detail);
}

/** Walks every nested value of an expression list. */
function* walk(value: NftValue): Generator<NftValue> {
  yield value;
  if (Array.isArray(value)) for (const v of value) yield* walk(v);
  else if (isRecord(value)) for (const v of Object.values(value)) yield* walk(v);
}

/** The chain a `jump` or `goto` statement names, if `e` is one. */
function jumpTarget(e: NftExpr): string | undefined {
  for (const verdict of ["jump", "goto"]) {
    const target = e[verdict] ?? null;
    if (isRecord(target) && typeof target.target === "string") return target.target;
  }
  return undefined;
}

function elemKey(v: NftValue): [number, string] {
  if (typeof v === "number") return [v, ""];
  if (typeof v === "string") {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(v);
    if (m) return [m.slice(1).reduce((a, o) => a * 256 + Number.parseInt(o, 10), 0), ""];
    return [0, v];
  }
  if (Array.isArray(v) && v.length > 0) return elemKey(v[0] as NftValue);
  if (isRecord(v) && Array.isArray(v.range) && v.range.length > 0) return elemKey(v.range[0] as NftValue);
  return [0, JSON.stringify(v)];
}

function sortElems(elems: readonly NftValue[]): NftValue[] {
  return [...elems].sort((a, b) => {
    const [na, sa] = elemKey(a);
    const [nb, sb] = elemKey(b);
    return na - nb || sa.localeCompare(sb);
  });
}

/** How `nft` lists an expression back: `in` becomes `==`, one-element anonymous sets lose their braces. */
function listed(value: NftValue): NftValue {
  if (Array.isArray(value)) return value.map(listed);
  if (!isRecord(value)) return value;
  const out: Record<string, NftValue> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "counter") out[k] = { packets: 0, bytes: 0 };
    else if (k === "op" && v === "in") out[k] = "==";
    else if (k === "right" && isRecord(v) && Array.isArray(v.set) && v.set.length === 1) {
      out[k] = listed(v.set[0] as NftValue);
    } else if (k === "set" && Array.isArray(v)) out[k] = sortElems(v.map(listed));
    else out[k] = listed(v);
  }
  return out;
}

// Where the kernel accepts each NAT statement (nft_nat/nft_masq validate against the chain's hooks).
const NAT_HOOKS: Readonly<Record<string, readonly string[]>> = {
  masquerade: ["postrouting"],
  snat: ["postrouting", "input"],
  dnat: ["prerouting", "output"],
};

/** In-memory {@link Nftables}. */
export class FakeNftables implements Nftables {
  #tables: TableState[] = [];
  #nextTableHandle = 1;
  /** Every transaction passed to {@link apply}, including refused ones. */
  readonly transactions: NftJson[] = [];

  async apply(rs: NftJson): Promise<void> {
    if (rs.nftables.length === 0) return;
    this.transactions.push(clone(rs));
    const draft = clone(this.#tables);
    let nextTableHandle = this.#nextTableHandle;
    for (const entry of rs.nftables) {
      // A listing's objects are no commands; they fall through to the refusal at the end.
      const cmd = entry as NftCommand;
      if ("add" in cmd || "create" in cmd) {
        const obj: NftObject = "add" in cmd ? cmd.add : cmd.create;
        if ("table" in obj) {
          const existing = draft.find((t) => t.family === obj.table.family && t.name === obj.table.name);
          if (existing !== undefined && "create" in cmd) fail(NftFailure.Exists, "Could not process rule: File exists");
          if (existing === undefined) {
            draft.push({
              family: obj.table.family,
              name: obj.table.name,
              handle: nextTableHandle++,
              nextHandle: 1,
              sets: [],
              chains: [],
            });
          }
        } else {
          this.#add(draft, obj, "create" in cmd);
        }
      } else if ("delete" in cmd) {
        this.#delete(draft, cmd.delete);
      } else if ("flush" in cmd) {
        const obj = cmd.flush;
        if ("ruleset" in obj) draft.splice(0, draft.length);
        else if ("table" in obj) {
          const t = this.#table(draft, obj.table.family, obj.table.name);
          for (const c of t.chains) c.rules = [];
        } else if ("chain" in obj) {
          this.#chain(draft, obj.chain).rules = [];
        } else {
          this.#set(draft, "set" in obj ? obj.set : obj.map).elem = [];
        }
      } else {
        throw new RangeError(`FakeNftables cannot apply "${Object.keys(entry).join(",")}"`);
      }
    }
    this.#validateNat(draft);
    this.#tables = draft;
    this.#nextTableHandle = nextTableHandle;
  }

  #table(tables: TableState[], family: NftFamily, name: string): TableState {
    const t = tables.find((x) => x.family === family && x.name === name);
    if (t === undefined) fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
    return t;
  }

  #chain(tables: TableState[], ref: NftRef): ChainState {
    const c = this.#table(tables, ref.family, ref.table).chains.find((x) => x.def.name === ref.name);
    if (c === undefined) fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
    return c;
  }

  #set(tables: TableState[], ref: NftRef): SetState {
    const s = this.#table(tables, ref.family, ref.table).sets.find((x) => x.def.name === ref.name);
    if (s === undefined) fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
    return s;
  }

  /**
   * `delete`: a table goes with everything in it, a chain with its rules, a set with its elements. The kernel refuses
   * (EBUSY) to delete a chain another chain's rule jumps to, or a set a rule refers to.
   */
  #delete(tables: TableState[], target: NftTarget): void {
    if ("table" in target) {
      const i = tables.findIndex((t) => t.family === target.table.family && t.name === target.table.name);
      if (i < 0) fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
      tables.splice(i, 1);
      return;
    }
    const ref = "chain" in target ? target.chain : "set" in target ? target.set : target.map;
    const t = this.#table(tables, ref.family, ref.table);
    if ("chain" in target) {
      const chain = this.#chain(tables, ref);
      const jumpedTo = t.chains.some(
        (c) => c !== chain && c.rules.some((r) => r.expr.some((e) => jumpTarget(e) === ref.name)),
      );
      if (jumpedTo) fail(NftFailure.Busy, "Could not process rule: Device or resource busy");
      t.chains = t.chains.filter((c) => c !== chain);
      return;
    }
    const set = this.#set(tables, ref);
    const used = t.chains.some((c) =>
      c.rules.some((r) => [...walk(r.expr as NftValue)].some((v) => v === `@${ref.name}`)),
    );
    if (used) fail(NftFailure.Busy, "Could not process rule: Device or resource busy");
    t.sets = t.sets.filter((x) => x !== set);
  }

  #add(tables: TableState[], obj: Exclude<NftObject, { readonly table: unknown }>, create: boolean): void {
    if ("chain" in obj) {
      const t = this.#table(tables, obj.chain.family, obj.chain.table);
      const existing = t.chains.find((c) => c.def.name === obj.chain.name);
      if (existing !== undefined && create) fail(NftFailure.Exists, "Could not process rule: File exists");
      if (existing === undefined) {
        const { handle: _h, ...def } = obj.chain;
        t.chains.push({ def, handle: t.nextHandle++, rules: [] });
      }
      return;
    }
    if ("set" in obj || "map" in obj) {
      const def = "set" in obj ? obj.set : obj.map;
      const t = this.#table(tables, def.family, def.table);
      let s = t.sets.find((x) => x.def.name === def.name);
      if (s !== undefined && create) fail(NftFailure.Exists, "Could not process rule: File exists");
      if (s === undefined) {
        const { elem: _e, handle: _h, ...rest } = def;
        s = { isMap: "map" in obj, def: rest, elem: [], handle: t.nextHandle++ };
        t.sets.push(s);
      }
      this.#addElems(s, def.elem ?? []);
      return;
    }
    if ("element" in obj) {
      const t = this.#table(tables, obj.element.family, obj.element.table);
      const s = t.sets.find((x) => x.def.name === obj.element.name);
      if (s === undefined) fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
      this.#addElems(s, obj.element.elem);
      return;
    }
    this.#addRule(tables, obj.rule);
  }

  #addElems(s: SetState, elems: readonly NftValue[]): void {
    for (const e of elems) {
      const key = Array.isArray(e) ? (e[0] as NftValue) : e;
      if (isRecord(key) && "range" in key && !(s.def.flags ?? []).includes("interval")) {
        fail(NftFailure.Invalid, "Could not process rule: Invalid argument");
      }
      if (!s.elem.some((x) => JSON.stringify(x) === JSON.stringify(e))) s.elem.push(clone(e));
    }
  }

  #addRule(tables: TableState[], rule: NftRule): void {
    const t = this.#table(tables, rule.family, rule.table);
    const chain = t.chains.find((c) => c.def.name === rule.chain);
    if (chain === undefined) fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
    for (const v of walk(rule.expr as NftValue)) {
      if (typeof v === "string" && v.startsWith("@") && !t.sets.some((s) => s.def.name === v.slice(1))) {
        fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
      }
    }
    for (const e of rule.expr) {
      const name = jumpTarget(e);
      if (name !== undefined && !t.chains.some((c) => c.def.name === name)) {
        fail(NftFailure.NotFound, "Could not process rule: No such file or directory");
      }
    }
    chain.rules.push({ expr: clone(rule.expr), handle: t.nextHandle++ });
  }

  /** Checks each NAT statement against the hooks of every base chain that reaches its chain. */
  #validateNat(tables: TableState[]): void {
    for (const t of tables) {
      const hooksOf = new Map<string, Set<string>>();
      const visit = (chain: ChainState, base: ChainState, seen: Set<string>): void => {
        if (seen.has(chain.def.name)) return;
        seen.add(chain.def.name);
        const set = hooksOf.get(chain.def.name) ?? new Set<string>();
        set.add(`${base.def.type ?? ""}/${base.def.hook ?? ""}`);
        hooksOf.set(chain.def.name, set);
        for (const r of chain.rules) {
          for (const e of r.expr) {
            const next = t.chains.find((c) => c.def.name === jumpTarget(e));
            if (next !== undefined) visit(next, base, seen);
          }
        }
      };
      for (const c of t.chains) if (c.def.hook !== undefined) visit(c, c, new Set());
      for (const c of t.chains) {
        for (const r of c.rules) {
          for (const e of r.expr) {
            for (const [stmt, allowed] of Object.entries(NAT_HOOKS)) {
              if (!(stmt in e)) continue;
              for (const h of hooksOf.get(c.def.name) ?? []) {
                const [type, hook = ""] = h.split("/");
                if (type !== "nat" || !allowed.includes(hook)) {
                  fail(NftFailure.NotSupported, "Could not process rule: Operation not supported");
                }
              }
            }
          }
        }
      }
    }
  }

  async list(): Promise<NftJson<NftListed>> {
    const out: NftListed[] = [{ metainfo: { version: "fake", release_name: "fake", json_schema_version: 1 } }];
    for (const t of this.#tables) {
      out.push({ table: { family: t.family, name: t.name, handle: t.handle } });
      for (const s of t.sets) {
        const def: NftSet = {
          ...s.def,
          handle: s.handle,
          ...(s.elem.length === 0 ? {} : { elem: sortElems(s.elem.map(listed)) }),
        };
        out.push(s.isMap ? { map: def } : { set: def });
      }
      for (const c of t.chains) out.push({ chain: { ...c.def, handle: c.handle } });
      for (const c of t.chains) {
        for (const r of c.rules) {
          out.push({
            rule: {
              family: t.family,
              table: t.name,
              chain: c.def.name,
              handle: r.handle,
              expr: r.expr.map((e) => listed(e) as NftExpr),
            },
          });
        }
      }
    }
    return { nftables: out };
  }

  deleteTable(family: NftFamily, name: string): Promise<void> {
    return this.apply(ruleset([nftTable(family, name).delete()]));
  }
}
