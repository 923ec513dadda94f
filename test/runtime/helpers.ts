/** Shared pieces of the runtime tests: VM models, a fake pod, adapters that fail on demand, state snapshots. */
import type { VmNetworkModel } from "../../src/api/model.ts";
import { type Netlink, NetlinkBatchError, NetlinkFailure, type NetlinkOp } from "../../src/host/netlink.ts";
import { FakeNetlink } from "../../src/host/netlink-fake.ts";
import { NftApplyError, type Nftables, NftFailure, type NftJson } from "../../src/host/nftables.ts";
import { FakeSysctl, type Sysctl, SysctlError, SysctlFailure } from "../../src/host/sysctl.ts";
import { iface, podNet, vm } from "../plan/fixtures.ts";

/** The VMs the runtime tests wire: bridge on the pod network, masquerade with and without ports. */
export const models = {
  bridge: vm([iface("default", { kind: "bridge" })], [podNet()]),
  masquerade: vm([iface("default", { kind: "masquerade" })], [podNet()]),
  masqueradePorts: vm(
    [
      iface(
        "default",
        { kind: "masquerade" },
        {
          ports: [
            { protocol: "TCP", port: 80 },
            { protocol: "UDP", port: 53 },
          ],
        },
      ),
    ],
    [podNet()],
  ),
  virtinkBridge: vm([iface("default", { kind: "bridge" })], [podNet()], { dialect: "virtink" }),
  virtinkMasquerade: vm([iface("default", { kind: "masquerade" })], [podNet()], { dialect: "virtink" }),
} satisfies Record<string, VmNetworkModel>;

/** The pod's resolv.conf. */
export const RESOLV = "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n";

/** A fake pod as CNI leaves it: `eth0` with the given addresses, a default route per family. */
export function fakePod(addresses: readonly string[] = ["10.244.1.5/24", "fd00:10:244:1::5/64"]): FakeNetlink {
  const routes = [
    ...(addresses.some((a) => !a.includes(":")) ? [{ dst: "default", via: "10.244.1.1", dev: "eth0" }] : []),
    ...(addresses.some((a) => a.includes(":")) ? [{ dst: "default", via: "fd00:10:244:1::1", dev: "eth0" }] : []),
  ];
  return new FakeNetlink({
    links: [{ name: "eth0", kind: "veth", mac: "0a:58:0a:f4:01:05", mtu: 1450, up: true, addresses }],
    routes,
  });
}

/** Reads pod files from a map. */
export function podFiles(hostname = "testvm-pod"): (path: string) => Promise<string> {
  return async (path) => {
    if (path.endsWith("resolv.conf")) return RESOLV;
    if (path.endsWith("hostname")) return `${hostname}\n`;
    throw new Error(`ENOENT: no such file "${path}"`);
  };
}

/** A fake sysctl tree that grows `conf.<ifname>` keys for links of `netlink`, as the kernel does. */
export class LinkedFakeSysctl implements Sysctl {
  readonly inner = new FakeSysctl();
  readonly #netlink: Netlink;
  readonly #known = new Set<string>();

  constructor(netlink: Netlink) {
    this.#netlink = netlink;
  }

  async #sync(): Promise<void> {
    for (const l of await this.#netlink.links()) {
      if (!this.#known.has(l.name)) {
        this.#known.add(l.name);
        this.inner.addInterface(l.name);
      }
    }
  }

  async get(key: string): Promise<string> {
    await this.#sync();
    return this.inner.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    await this.#sync();
    return this.inner.set(key, value);
  }
}

/** A netlink whose next batch applies only its first `failAt` operations, then fails as the kernel would. */
export class FailingNetlink implements Netlink {
  constructor(
    readonly inner: FakeNetlink,
    public failAt: number | undefined,
  ) {}

  links() {
    return this.inner.links();
  }

  addresses() {
    return this.inner.addresses();
  }

  routes(family: 4 | 6) {
    return this.inner.routes(family);
  }

  snapshot() {
    return this.inner.snapshot();
  }

  async batch(ops: readonly NetlinkOp[]): Promise<void> {
    const k = this.failAt;
    if (k === undefined || k >= ops.length) return this.inner.batch(ops);
    this.failAt = undefined;
    await this.inner.batch(ops.slice(0, k));
    const op = ops[k];
    if (op === undefined) throw new RangeError("no op to fail");
    throw new NetlinkBatchError(k, op, NetlinkFailure.Invalid, "injected failure");
  }
}

/** An nftables adapter whose next `apply` is refused. */
export class FailingNftables implements Nftables {
  fail = true;
  constructor(readonly inner: Nftables) {}

  async apply(rs: NftJson): Promise<void> {
    if (this.fail) {
      this.fail = false;
      throw new NftApplyError(NftFailure.Invalid, "injected failure");
    }
    return this.inner.apply(rs);
  }

  list() {
    return this.inner.list();
  }

  deleteTable(...args: Parameters<Nftables["deleteTable"]>) {
    return this.inner.deleteTable(...args);
  }
}

/** A sysctl adapter whose `set` number `failAt` (0-based) fails. */
export class FailingSysctl implements Sysctl {
  #sets = 0;
  constructor(
    readonly inner: Sysctl,
    readonly failAt: number,
  ) {}

  get(key: string) {
    return this.inner.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    if (this.#sets++ === this.failAt) throw new SysctlError(key, SysctlFailure.Invalid, "injected failure");
    return this.inner.set(key, value);
  }
}

/** Everything a Netlink shows, in a comparable form (ifindex kept: the same kernel objects must come back). */
export async function netlinkSnapshot(netlink: Netlink): Promise<unknown> {
  const links = (await netlink.links())
    .map((l) => ({
      name: l.name,
      ifindex: l.ifindex,
      kind: l.kind,
      mac: l.mac,
      mtu: l.mtu,
      master: l.master,
      up: l.flags.includes("UP"),
    }))
    .sort((a, b) => a.ifindex - b.ifindex);
  const addresses = (await netlink.addresses()).map((a) => `${a.ifname} ${a.local}/${a.prefixlen} ${a.scope}`).sort();
  const routes = [...(await netlink.routes(4)), ...(await netlink.routes(6))]
    .map((r) => `${r.dst} via ${r.gateway ?? "-"} dev ${r.dev ?? "-"}`)
    .sort();
  return { links, addresses, routes };
}
