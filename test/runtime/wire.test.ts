import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import type { DhcpInterfacePlan } from "../../src/runtime/dhcp/config.ts";
import { PlaceholderKind } from "../../src/runtime/links.ts";
import { MemoryStateStore } from "../../src/runtime/state.ts";
import { type DetachGuest, type DhcpService, unwirePod, WireError, WireStep, wirePod } from "../../src/runtime/wire.ts";
import { config, iface, multusNet, podNet, vm } from "../plan/fixtures.ts";
import { FailingNftables, fakePod, LinkedFakeSysctl, models, netlinkSnapshot, podFiles } from "./helpers.ts";

/** A DHCP agent that records calls in a shared log and fails `start`/`stop` on demand. */
class FakeAgent implements DhcpService {
  readonly served = new Map<string, readonly DhcpInterfacePlan[]>();
  failStart = false;
  failStop = false;
  constructor(readonly log: string[]) {}

  async start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    this.log.push(`agent.start ${podId} ${netns}`);
    if (this.failStart) throw new Error("injected agent failure");
    this.served.set(podId, interfaces);
  }

  async stop(podId: string): Promise<void> {
    this.log.push(`agent.stop ${podId}`);
    if (this.failStop) throw new Error("injected stop failure");
    this.served.delete(podId);
  }
}

function setup(addresses?: readonly string[]) {
  const kernel = fakePod(addresses);
  const log: string[] = [];
  const nft = new FailingNftables(new FakeNftables());
  nft.fail = false;
  const adapters = { netlink: kernel, nft, sysctl: new LinkedFakeSysctl(kernel) };
  const state = new MemoryStateStore();
  const agent = new FakeAgent(log);
  const options = (extra: Partial<Parameters<typeof wirePod>[1]> = {}) => ({
    netns: "vmnt-fake",
    podDir: "/pod",
    config: config(),
    stateDir: "/unused",
    podKey: "pod-uid-1",
    agent,
    adapters,
    state,
    placeholder: PlaceholderKind.Bridge,
    readFile: podFiles(),
    ...extra,
  });
  return { kernel, log, nft, adapters, state, agent, options };
}

/** An attach hook that checks the planned taps exist, gives the RA bridges their link-local address, and logs. */
function attachGiving(t: ReturnType<typeof setup>, linkLocal: boolean): (plan: NetworkPlan) => Promise<DetachGuest> {
  return async (plan) => {
    const names = new Set((await t.kernel.links()).map((l) => l.name));
    for (const i of plan.interfaces) assert.ok(names.has(i.guest.tapName.value), `tap ${i.guest.tapName.value}`);
    t.log.push("attach");
    if (linkLocal) {
      await t.kernel.batch(
        plan.interfaces.flatMap((i) =>
          i.ra === undefined
            ? []
            : [{ op: "addAddress" as const, name: i.ra.interface.value, address: `${i.ra.sourceAddress}/64` }],
        ),
      );
    }
    return async () => {
      t.log.push("detach");
    };
  };
}

/** The nftables tables left in the fake. */
async function tables(t: ReturnType<typeof setup>): Promise<unknown[]> {
  return (await t.nft.inner.list()).nftables.filter((o) => "table" in o);
}

const dualStackMasquerade: VmNetworkModel = models.masquerade;

describe("wirePod", () => {
  it("bridge: discovers, plans, applies and serves DHCPv4 on the bridge; unwire restores the pod as CNI left it", async () => {
    const t = setup(["10.244.1.5/24"]);
    const before = await netlinkSnapshot(t.kernel);
    const wired = await wirePod(models.bridge, t.options());
    assert.equal(wired.served, true);
    assert.deepEqual(t.log, ["agent.start pod-uid-1 vmnt-fake"]);
    const served = t.agent.served.get("pod-uid-1") ?? [];
    assert.equal(served.length, 1);
    assert.equal(served[0]?.dhcpv4?.serverInterface.value, "k6t-eth0");
    assert.equal(served[0]?.dhcpv4?.client.ip, "10.244.1.5");
    assert.equal((await t.state.load())?.phase, "finished");
    await unwirePod(wired);
    assert.deepEqual(t.log, ["agent.start pod-uid-1 vmnt-fake", "agent.stop pod-uid-1"]);
    assert.deepEqual(await netlinkSnapshot(t.kernel), before);
    assert.equal(await t.state.load(), undefined);
    assert.deepEqual(await tables(t), []);
  });

  it("masquerade dual-stack: attaches the guest, waits for the RA source address, then starts the agent", async () => {
    const t = setup();
    const before = await netlinkSnapshot(t.kernel);
    const wired = await wirePod(
      dualStackMasquerade,
      t.options({ attachGuest: attachGiving(t, true), routerAddressTimeoutMs: 500 }),
    );
    assert.deepEqual(t.log, ["attach", "agent.start pod-uid-1 vmnt-fake"]);
    const served = t.agent.served.get("pod-uid-1")?.[0];
    assert.equal(served?.ra?.sourceAddress, "fe80::ff:fe00:0");
    assert.equal(served?.dhcpv6?.clientAddress, "fd10:0:2::2");
    await unwirePod(wired);
    assert.deepEqual(t.log.slice(2), ["agent.stop pod-uid-1", "detach"]);
    assert.deepEqual(await netlinkSnapshot(t.kernel), before);
  });

  it("a plan without DHCP or RA services starts no agent", async () => {
    const t = setup([]);
    const model = vm([iface("blue", { kind: "bridge" })], [multusNet("blue", "blue-net")]);
    t.kernel.addLink({
      name: hashedPodInterfaceName("blue").value,
      kind: "veth",
      mac: "0a:58:0a:f4:02:07",
      mtu: 1500,
      up: true,
    });
    const wired = await wirePod(model, t.options());
    assert.equal(wired.served, false);
    assert.deepEqual(t.log, []);
    await unwirePod(wired);
    assert.deepEqual(t.log, []);
  });

  const failures: {
    name: string;
    step: WireStep;
    model: VmNetworkModel;
    prepare: (t: ReturnType<typeof setup>) => Partial<Parameters<typeof wirePod>[1]>;
    log: string[];
  }[] = [
    {
      name: "a Multus network without its NAD fails planning and touches nothing",
      step: WireStep.Plan,
      model: vm(
        [iface("default", { kind: "masquerade" }), iface("blue", { kind: "bridge" })],
        [podNet(), multusNet("blue", "blue-net")],
      ),
      prepare: () => ({ nads: [] }),
      log: [],
    },
    {
      name: "a refused ruleset fails apply, which rolls itself back",
      step: WireStep.Apply,
      model: dualStackMasquerade,
      prepare: (t) => {
        t.nft.fail = true;
        return {};
      },
      log: [],
    },
    {
      name: "a failing attach tears the plan down",
      step: WireStep.Attach,
      model: dualStackMasquerade,
      prepare: () => ({
        attachGuest: async () => {
          throw new Error("injected attach failure");
        },
      }),
      log: [],
    },
    {
      name: "a router address that never appears detaches the guest and tears down",
      step: WireStep.RouterAddress,
      model: dualStackMasquerade,
      prepare: (t) => ({ attachGuest: attachGiving(t, false), routerAddressTimeoutMs: 300 }),
      log: ["attach", "detach"],
    },
    {
      name: "a failing agent start detaches the guest and tears down",
      step: WireStep.Agent,
      model: dualStackMasquerade,
      prepare: (t) => {
        t.agent.failStart = true;
        return { attachGuest: attachGiving(t, true) };
      },
      log: ["attach", "agent.start pod-uid-1 vmnt-fake", "detach"],
    },
  ];

  for (const c of failures) {
    it(`rollback: ${c.name}`, async () => {
      const t = setup();
      const before = await netlinkSnapshot(t.kernel);
      const error = await wirePod(c.model, t.options(c.prepare(t))).then(
        () => assert.fail("wirePod should fail"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WireError, String(error));
      assert.equal(error.step, c.step);
      assert.deepEqual(error.rollbackErrors, []);
      assert.match(error.message, new RegExp(`^Cannot wire the pod \\(step "${c.step}"\\), rolled back: `));
      assert.deepEqual(t.log, c.log);
      assert.deepEqual(await netlinkSnapshot(t.kernel), before);
      assert.equal(await t.state.load(), undefined);
      assert.deepEqual(await tables(t), []);
    });
  }

  it("unwirePod keeps going past a failing agent stop and reports it", async () => {
    const t = setup();
    const before = await netlinkSnapshot(t.kernel);
    const wired = await wirePod(dualStackMasquerade, t.options({ attachGuest: attachGiving(t, true) }));
    t.agent.failStop = true;
    await assert.rejects(unwirePod(wired), (e: unknown) => {
      assert.ok(e instanceof AggregateError);
      assert.equal(e.message, 'Cannot fully unwire pod "pod-uid-1" in netns "vmnt-fake"');
      assert.deepEqual(
        e.errors.map((x: unknown) => (x instanceof Error ? x.message : String(x))),
        ["injected stop failure"],
      );
      return true;
    });
    assert.deepEqual(t.log.slice(-2), ["agent.stop pod-uid-1", "detach"]);
    assert.deepEqual(await netlinkSnapshot(t.kernel), before);
  });
});
