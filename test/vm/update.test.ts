/**
 * diffUpdate: the running VM's model and a new spec's model give the steps `vmnet update` takes, or the changes that
 * need a restart (KubeVirt's RestartRequired, reference §8.1) or cannot be hot-plugged (§8.2). One table entry per case.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { InterfaceSpec, NetworkSpec, VmNetworkModel } from "../../src/api/model.ts";
import { VmError } from "../../src/vm/errors.ts";
import { diffUpdate, RestartRequiredError, type UpdateStep } from "../../src/vm/update.ts";

function iface(name: string, extra: Partial<InterfaceSpec> = {}): InterfaceSpec {
  return {
    name,
    binding: name === "default" ? { kind: "masquerade" } : { kind: "bridge" },
    model: "virtio",
    ports: [],
    portRanges: [],
    state: "up",
    ...extra,
  };
}

function multus(name: string, networkName = `nad-${name}`, isDefault = false): NetworkSpec {
  return { name, source: { kind: "multus", networkName, default: isDefault } };
}

const POD: NetworkSpec = { name: "default", source: { kind: "pod" } };

function vm(interfaces: InterfaceSpec[], networks: NetworkSpec[], extra: Partial<VmNetworkModel> = {}): VmNetworkModel {
  return {
    dialect: "kubevirt",
    name: "vm1",
    namespace: "default",
    interfaces,
    networks,
    multiqueue: false,
    vcpus: 1,
    useVirtioTransitional: false,
    ...extra,
  };
}

const RUNNING = vm([iface("default"), iface("red")], [POD, multus("red")]);

describe("diffUpdate: steps", () => {
  const cases: {
    readonly name: string;
    readonly running?: VmNetworkModel;
    readonly next: VmNetworkModel;
    readonly linkStates?: Record<string, "up" | "down">;
    readonly steps: UpdateStep[];
    /** Interface name and state of the resulting model, in order. */
    readonly model: string[];
  }[] = [
    {
      name: "the same spec changes nothing",
      next: RUNNING,
      steps: [],
      model: ["default up", "red up"],
    },
    {
      name: "a bridge interface on a new Multus network is plugged",
      next: vm([iface("default"), iface("red"), iface("blue")], [POD, multus("red"), multus("blue")]),
      steps: [{ kind: "plug", iface: "blue", network: multus("blue") }],
      model: ["default up", "red up", "blue up"],
    },
    {
      name: "a new interface listed first still goes after the running ones",
      next: vm([iface("blue"), iface("default"), iface("red")], [multus("blue"), POD, multus("red")]),
      steps: [{ kind: "plug", iface: "blue", network: multus("blue") }],
      model: ["default up", "red up", "blue up"],
    },
    {
      name: "a new interface plugged with its link down",
      next: vm(
        [iface("default"), iface("red"), iface("blue", { state: "down" })],
        [POD, multus("red"), multus("blue")],
      ),
      steps: [{ kind: "plug", iface: "blue", network: multus("blue") }],
      model: ["default up", "red up", "blue down"],
    },
    {
      name: "a new interface that is absent is not added",
      next: vm(
        [iface("default"), iface("red"), iface("blue", { state: "absent" })],
        [POD, multus("red"), multus("blue")],
      ),
      steps: [],
      model: ["default up", "red up"],
    },
    {
      name: "state absent unplugs and stays in the model",
      next: vm([iface("default"), iface("red", { state: "absent" })], [POD, multus("red")]),
      steps: [{ kind: "unplug", iface: "red", network: multus("red") }],
      model: ["default up", "red absent"],
    },
    {
      name: "an absent interface left out of the new spec stays absent",
      running: vm([iface("default"), iface("red", { state: "absent" })], [POD, multus("red")]),
      next: vm([iface("default")], [POD]),
      steps: [],
      model: ["default up", "red absent"],
    },
    {
      name: "an absent interface set up again is plugged in its old place",
      running: vm(
        [iface("default"), iface("red", { state: "absent" }), iface("blue")],
        [POD, multus("red"), multus("blue")],
      ),
      next: vm([iface("default"), iface("red"), iface("blue")], [POD, multus("red"), multus("blue")]),
      steps: [{ kind: "plug", iface: "red", network: multus("red") }],
      model: ["default up", "red up", "blue up"],
    },
    {
      name: "state down sets the link down",
      next: vm([iface("default", { state: "down" }), iface("red")], [POD, multus("red")]),
      steps: [{ kind: "link", iface: "default", state: "down" }],
      model: ["default down", "red up"],
    },
    {
      name: "state up after 'vmnet link ... down' sets it up again",
      next: RUNNING,
      linkStates: { red: "down" },
      steps: [{ kind: "link", iface: "red", state: "up" }],
      model: ["default up", "red up"],
    },
    {
      name: "state down already set by 'vmnet link' is no step",
      next: vm([iface("default"), iface("red", { state: "down" })], [POD, multus("red")]),
      linkStates: { red: "down" },
      steps: [],
      model: ["default up", "red down"],
    },
    {
      name: "links first, then unplugs, then plugs",
      running: vm([iface("default"), iface("red"), iface("green")], [POD, multus("red"), multus("green")]),
      next: vm(
        [iface("default"), iface("red", { state: "absent" }), iface("green", { state: "down" }), iface("blue")],
        [POD, multus("red"), multus("green"), multus("blue")],
      ),
      steps: [
        { kind: "link", iface: "green", state: "down" },
        { kind: "unplug", iface: "red", network: multus("red") },
        { kind: "plug", iface: "blue", network: multus("blue") },
      ],
      model: ["default up", "red absent", "green down", "blue up"],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const diff = diffUpdate(c.running ?? RUNNING, c.next, c.linkStates);
      assert.deepEqual(diff.steps, c.steps);
      assert.deepEqual(
        diff.model.interfaces.map((i) => `${i.name} ${i.state}`),
        c.model,
      );
      for (const i of diff.model.interfaces) {
        assert.ok(
          diff.model.networks.some((n) => n.name === i.name),
          `network of "${i.name}" is in the model`,
        );
      }
    });
  }
});

describe("diffUpdate: refusals", () => {
  const cases: {
    readonly name: string;
    readonly next: VmNetworkModel;
    readonly running?: VmNetworkModel;
    /** RestartRequiredError's fields, or a VmError's message. */
    readonly fields?: string[];
    readonly message?: RegExp;
  }[] = [
    {
      name: "a changed model needs a restart",
      next: vm([iface("default"), iface("red", { model: "e1000" })], [POD, multus("red")]),
      fields: ['interface "red" model'],
    },
    {
      name: "a changed MAC and PCI address are listed together",
      next: vm(
        [iface("default", { macAddress: "02:00:00:00:00:01", pciAddress: "0000:02:00.0" }), iface("red")],
        [POD, multus("red")],
      ),
      fields: ['interface "default" macAddress, pciAddress'],
    },
    {
      name: "a changed binding needs a restart",
      next: vm([iface("default"), iface("red", { binding: { kind: "sriov" } })], [POD, multus("red")]),
      fields: ['interface "red" binding'],
    },
    {
      name: "a changed NAD needs a restart",
      next: vm([iface("default"), iface("red")], [POD, multus("red", "other")]),
      fields: ['network "red" source'],
    },
    {
      name: "an interface removed without state absent needs a restart",
      next: vm([iface("default")], [POD]),
      fields: ['interface "red" removed (set its state to absent to unplug it)'],
    },
    {
      name: "VM-wide fields need a restart",
      next: vm([iface("default"), iface("red")], [POD, multus("red")], { vcpus: 2, multiqueue: true }),
      fields: ["multiqueue", "vcpus"],
    },
    {
      name: "an added pod network needs a restart",
      running: vm([iface("red")], [multus("red")]),
      next: vm([iface("red"), iface("default")], [multus("red"), POD]),
      fields: ['interface "default" added on the pod network'],
    },
    {
      name: "an added Multus default network needs a restart",
      running: vm([iface("red")], [multus("red")]),
      next: vm([iface("red"), iface("blue")], [multus("red"), multus("blue", "nad-blue", true)]),
      fields: ['interface "blue" added on the default network'],
    },
    {
      name: "a hot-plugged SR-IOV NIC needs a new pod",
      next: vm(
        [iface("default"), iface("red"), iface("blue", { binding: { kind: "sriov" } })],
        [POD, multus("red"), multus("blue")],
      ),
      message: /^Cannot hot-plug interface "blue": an SR-IOV NIC needs a new pod/,
    },
    {
      name: "only bridge interfaces are hot-plugged",
      next: vm(
        [iface("default"), iface("red"), iface("blue", { binding: { kind: "macvtap" } })],
        [POD, multus("red"), multus("blue")],
      ),
      message:
        /^Cannot hot-plug interface "blue": only bridge interfaces on secondary Multus networks can be hot-plugged, not binding "macvtap"$/,
    },
    {
      name: "a Virtink VM takes no hotplug",
      running: vm([iface("default"), iface("red")], [POD, multus("red")], { dialect: "virtink" }),
      next: vm([iface("default"), iface("red"), iface("blue")], [POD, multus("red"), multus("blue")], {
        dialect: "virtink",
      }),
      message: /^Cannot hot-plug interface "blue": Virtink VMs take no NIC hotplug; restart the VM$/,
    },
    {
      name: "another VM's spec",
      next: vm([iface("default")], [POD], { name: "vm2" }),
      message: /^Cannot update VM "default\/vm1" with the spec of "default\/vm2"$/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => diffUpdate(c.running ?? RUNNING, c.next),
        (e: unknown) => {
          if (c.fields !== undefined) {
            assert.ok(e instanceof RestartRequiredError, String(e));
            assert.deepEqual(e.fields, c.fields);
            assert.match(e.message, /needs? a restart \(KubeVirt marks the VM RestartRequired\)/);
          } else {
            assert.ok(e instanceof VmError && !(e instanceof RestartRequiredError), String(e));
            assert.match(e.message, c.message ?? /./);
          }
          return true;
        },
      );
    });
  }
});
