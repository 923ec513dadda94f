import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POD_CIDRS, parsePodCidrs } from "../../../src/admission/vmnet/common.ts";
import type { NadFacts } from "../../../src/admission/vmnet/nad-facts.ts";
import { checkVirtinkVm } from "../../../src/admission/vmnet/virtink.ts";
import type { VkInterface, VkNetwork } from "../../../src/api/virtink-types.ts";

interface Case {
  readonly name: string;
  readonly interfaces: VkInterface[];
  readonly networks: VkNetwork[];
  readonly nads?: NadFacts[];
  readonly want: readonly (readonly [string, string])[];
}

const I = "spec.instance.interfaces";
const mac = (n: number): string => `52:54:00:00:00:${n.toString(16).padStart(2, "0")}`;

const CASES: readonly Case[] = [
  {
    name: "bridge on the pod network is clean",
    interfaces: [{ name: "pod", mac: mac(1), bridge: {} }],
    networks: [{ name: "pod", pod: {} }],
    want: [],
  },
  {
    name: "network without an interface",
    interfaces: [{ name: "pod", mac: mac(1), bridge: {} }],
    networks: [
      { name: "pod", pod: {} },
      { name: "ovs", multus: { networkName: "ovs-br1" } },
    ],
    want: [["spec.networks[1].name", 'the controller would fail with "interface not found for network: ovs"']],
  },
  {
    name: "interface without a network",
    interfaces: [
      { name: "pod", mac: mac(1), bridge: {} },
      { name: "extra", mac: mac(2), bridge: {} },
    ],
    networks: [{ name: "pod", pod: {} }],
    want: [[`${I}[1].name`, 'Interface "extra" has no network of the same name']],
  },
  {
    name: "masquerade on a multus network",
    interfaces: [{ name: "ovs", mac: mac(1), masquerade: { cidr: "10.0.2.0/30" } }],
    networks: [{ name: "ovs", multus: { networkName: "ovs-br1" } }],
    want: [[`${I}[0].masquerade`, "Masquerade is only allowed to connect to the pod network"]],
  },
  {
    name: "masquerade cidr overlapping the pod network",
    interfaces: [{ name: "pod", mac: mac(1), masquerade: { cidr: "10.244.0.0/30" } }],
    networks: [{ name: "pod", pod: {} }],
    want: [[`${I}[0].masquerade.cidr`, 'cidr "10.244.0.0/30" overlaps the pod network "10.244.0.0/16"']],
  },
  {
    name: "masquerade cidr that Virtink rejects itself is not reported again",
    interfaces: [{ name: "pod", mac: mac(1), masquerade: { cidr: "10.0.2.0/31" } }],
    networks: [{ name: "pod", pod: {} }],
    want: [],
  },
  {
    name: "more than one pod network",
    interfaces: [
      { name: "a", mac: mac(1), bridge: {} },
      { name: "b", mac: mac(2), bridge: {} },
    ],
    networks: [
      { name: "a", pod: {} },
      { name: "b", pod: {} },
    ],
    want: [["spec.networks[1].pod", "More than one pod network"]],
  },
  {
    name: "more than one masquerade interface",
    interfaces: [
      { name: "a", mac: mac(1), masquerade: { cidr: "10.0.2.0/30" } },
      { name: "b", mac: mac(2), masquerade: { cidr: "10.0.3.0/30" } },
    ],
    networks: [
      { name: "a", pod: {} },
      { name: "b", multus: { networkName: "n" } },
    ],
    want: [
      [`${I}[1].masquerade`, "More than one masquerade interface"],
      [`${I}[1].masquerade`, "Masquerade is only allowed to connect to the pod network"],
    ],
  },
  {
    name: "sriov on the pod network",
    interfaces: [{ name: "pod", mac: mac(1), sriov: {} }],
    networks: [{ name: "pod", pod: {} }],
    want: [[`${I}[0].sriov`, "no device would be attached"]],
  },
  {
    name: "vdpa on a multus network",
    interfaces: [{ name: "vdpa1", mac: mac(1), vdpa: { numQueues: 9, iommu: false } }],
    networks: [{ name: "vdpa1", multus: { networkName: "offload-ovn1" } }],
    want: [],
  },
  {
    name: "duplicate MACs in different spellings",
    interfaces: [
      { name: "a", mac: "c6:1c:ba:0a:45:88", bridge: {} },
      { name: "b", mac: "C6-1C-BA-0A-45-88", bridge: {} },
    ],
    networks: [
      { name: "a", pod: {} },
      { name: "b", multus: { networkName: "n" } },
    ],
    want: [[`${I}[1].mac`, 'also used by interface "a"']],
  },
  {
    name: "multicast MAC, which Virtink accepts",
    interfaces: [{ name: "pod", mac: "01:1c:ba:0a:45:88", bridge: {} }],
    networks: [{ name: "pod", pod: {} }],
    want: [[`${I}[0].mac`, "is a multicast address"]],
  },
  {
    name: "bridge on a macvlan NAD",
    interfaces: [{ name: "mv", mac: mac(1), bridge: {} }],
    networks: [{ name: "mv", multus: { networkName: "macvlan" } }],
    nads: [{ name: "macvlan", plugins: [{ type: "macvlan", mode: "bridge" }] }],
    want: [[`${I}[0].bridge`, '"macvlan" CNI']],
  },
  {
    name: "bridge on a macvlan NAD in passthru mode (Virtink seed)",
    interfaces: [{ name: "mv", mac: mac(1), bridge: {} }],
    networks: [{ name: "mv", multus: { networkName: "macvlan" } }],
    nads: [{ name: "macvlan", plugins: [{ type: "macvlan", mode: "passthru" }] }],
    want: [],
  },
  {
    name: "multus network whose NAD is not among those given",
    interfaces: [{ name: "ovs", mac: mac(1), bridge: {} }],
    networks: [{ name: "ovs", multus: { networkName: "ovs-br2" } }],
    nads: [{ name: "ovs-br1", plugins: [{ type: "ovs" }] }],
    want: [["spec.networks[0].multus.networkName", '"ovs-br2" is not among the given ones']],
  },
];

describe("checkVirtinkVm", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const causes = checkVirtinkVm(
        {
          apiVersion: "virt.virtink.smartx.com/v1alpha1",
          kind: "VirtualMachine",
          spec: { instance: { interfaces: c.interfaces }, networks: c.networks },
        },
        { podCidrs: parsePodCidrs(DEFAULT_POD_CIDRS), ...(c.nads ? { nads: c.nads } : {}) },
      );
      assert.equal(causes.length, c.want.length, JSON.stringify(causes, null, 1));
      c.want.forEach(([field, fragment], k) => {
        assert.equal(causes[k]?.field, field);
        assert.ok(causes[k]?.message.includes(fragment), `${causes[k]?.message} lacks ${fragment}`);
      });
    });
  }
});
