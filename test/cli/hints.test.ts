import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hintFor } from "../../src/cli/hints.ts";

// One entry per kind of cause: a real message (KubeVirt's, Virtink's or vmnet's), its field, and a fragment of the
// hint it must get.
const CASES: readonly [string, string, string][] = [
  [
    "Masquerade interface only implemented with pod network",
    "spec.domain.devices.interfaces[0].name",
    "use bridge for multus networks",
  ],
  [
    "spec.instance.interfaces[0].masquerade: Forbidden: may not specify more than 1 binding method",
    "spec.instance.interfaces[0].masquerade",
    "keep one binding method",
  ],
  [
    "Slirp interface support has been discontinued since v1.3",
    "spec.domain.devices.interfaces[0].slirp",
    "permitSlirpInterface",
  ],
  ["bridge interface is not enabled in kubevirt-config", "", "defaultNetworkInterface: masquerade"],
  ["spec.networks[1].name 'blue' not found.", "spec.networks[1].name", "add an interface with the same name"],
  [
    "spec.domain.devices.interfaces[0].name 'default' not found.",
    "spec.domain.devices.interfaces[0].name",
    "add a network",
  ],
  ['"sriov-net" interface\'s state "down" is not supported for SR-IOV NICs', "x.state", "remove state"],
  [
    'vmNetworkCIDR "10.244.1.0/24" overlaps the pod network "10.244.0.0/16"; the guest…',
    "x",
    "outside the pod network",
  ],
  ['Network binding plugin "macvtap" is not registered in the KubeVirt CR', "x", "spec.configuration.network.binding"],
  ['Bridge binding does not work with the "macvlan" CNI of network attachment definition "m"', "x", "bridge or ovs"],
  ['MAC address "01:00:00:00:00:01" is a multicast address', "x", "bit 0"],
  [
    'Network "ovs" has no interface of the same name',
    "spec.networks[1].name",
    "add an interface with this network's name",
  ],
];

describe("hintFor", () => {
  for (const [message, field, fragment] of CASES) {
    it(`hints "${fragment}" for ${message.slice(0, 60)}`, () => {
      assert.ok(hintFor({ field, message })?.includes(fragment), hintFor({ field, message }));
    });
  }
  it("gives no hint for an unknown message", () =>
    assert.equal(hintFor({ field: "", message: "something else" }), undefined));
});
