import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admitVm, admitVms, type VmDocument, VmKind } from "../../../src/admission/admit.ts";
import { type ClusterConfig, DEFAULT_CLUSTER_CONFIG } from "../../../src/api/cluster-config.ts";
import { parseDocuments } from "../../../src/api/source.ts";

const doc = (kind: VmKind, text: string, index = 0): VmDocument => {
  const d = parseDocuments(text, "vm.yaml")[index];
  assert.ok(d);
  return { kind, doc: d };
};

const SRIOV_DOWN = `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: sriov-down
spec:
  domain:
    devices:
      interfaces:
      - name: default
        masquerade: {}
      - name: sriov-net
        sriov: {}
        state: down
  networks:
  - name: default
    pod: {}
  - name: sriov-net
    multus:
      networkName: default/sriov-net
`;

const OVERLAP = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: overlap
spec:
  template:
    spec:
      domain:
        devices:
          interfaces:
          - name: default
            masquerade: {}
      networks:
      - name: default
        pod:
          vmNetworkCIDR: 10.244.1.0/24
`;

const VIRTINK_UNPAIRED = `apiVersion: virt.virtink.smartx.com/v1alpha1
kind: VirtualMachine
metadata:
  name: unpaired
spec:
  instance:
    interfaces:
    - name: pod
      bridge: {}
  networks:
  - name: pod
    pod: {}
  - name: ovs
    multus:
      networkName: ovs-br1
`;

describe("admitVm", () => {
  it("reports SR-IOV state down once, as KubeVirt's cause, located at the state field", () => {
    const r = admitVm(doc(VmKind.KubeVirtVmi, SRIOV_DOWN));
    assert.equal(r.allowed, false);
    const stateCauses = r.causes.filter((c) => c.field.endsWith(".state"));
    assert.equal(stateCauses.length, 1);
    assert.equal(stateCauses[0]?.message, `"sriov-net" interface's state "down" is not supported for SR-IOV NICs`);
    assert.equal(stateCauses[0]?.line, 13);
    assert.equal(stateCauses[0]?.column, 9);
    assert.equal(r.findings.length, 0);
  });
  it("makes vmnet findings warnings by default", () => {
    const r = admitVm(doc(VmKind.KubeVirtVm, OVERLAP));
    assert.equal(r.allowed, true);
    assert.equal(r.causes.length, 0);
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0] ?? "",
      /^spec\.template\.spec\.networks\[0\]\.pod\.vmNetworkCIDR: vmNetworkCIDR "10\.244\.1\.0\/24" overlaps/,
    );
    assert.equal(r.findings[0]?.line, 16);
  });
  it("turns vmnet findings into causes under strict", () => {
    const r = admitVm(doc(VmKind.KubeVirtVm, OVERLAP), { strict: true });
    assert.equal(r.allowed, false);
    assert.equal(r.causes.length, 1);
    assert.deepEqual(r.warnings, []);
    assert.match(r.message ?? "", /overlaps the pod network/);
  });
  it("takes the pod CIDRs from the options", () => {
    const r = admitVm(doc(VmKind.KubeVirtVm, OVERLAP), { strict: true, podCidrs: ["10.96.0.0/12"] });
    assert.equal(r.allowed, true);
  });
  it("applies the cluster configuration", () => {
    const config: ClusterConfig = { ...DEFAULT_CLUSTER_CONFIG, defaultNetworkInterface: "masquerade" };
    const text =
      "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: bare\nspec:\n  domain: {}\n";
    const r = admitVm(doc(VmKind.KubeVirtVmi, text), { config });
    assert.equal(r.allowed, true);
    assert.deepEqual((r.defaulted as { spec: { domain: { devices: unknown } } }).spec.domain.devices, {
      interfaces: [{ name: "default", masquerade: {} }],
    });
  });
  it("denies a document the API server could not decode, before admission", () => {
    const text = "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nspec:\n  networks: 3\n";
    const r = admitVm(doc(VmKind.KubeVirtVmi, text));
    assert.equal(r.allowed, false);
    assert.equal(r.causes[0]?.field, "spec.networks");
    assert.equal(r.causes[0]?.line, 4);
  });
  it("reports Virtink's unpaired network as a vmnet finding with the controller's error", () => {
    const r = admitVm(doc(VmKind.VirtinkVm, VIRTINK_UNPAIRED), {
      strict: true,
      randomBytes: () => Uint8Array.of(1, 2, 3),
    });
    assert.equal(r.allowed, false);
    assert.equal(r.causes.length, 1);
    assert.equal(r.causes[0]?.field, "spec.networks[1].name");
    assert.match(r.message ?? "", /^spec\.networks\[1\]\.name: Network "ovs" has no interface/);
    assert.equal(r.causes[0]?.line, 13);
  });
  it("joins Virtink's causes and vmnet's findings into one aggregate message under strict", () => {
    const text = VIRTINK_UNPAIRED.replace("      bridge: {}", "      bridge: {}\n      sriov: {}");
    const r = admitVm(doc(VmKind.VirtinkVm, text), { strict: true, randomBytes: () => Uint8Array.of(1, 2, 3) });
    assert.equal(
      r.message,
      '[spec.instance.interfaces[0].sriov: Forbidden: may not specify more than 1 binding method, spec.networks[1].name: Network "ovs" has no interface of the same name; the controller would fail with "interface not found for network: ovs"]',
    );
  });
  it("appends vmnet's findings to KubeVirt's message under strict", () => {
    const text = OVERLAP.replace(
      "            masquerade: {}",
      "            masquerade: {}\n            macAddress: 02:00:00:00:00:00",
    );
    const r = admitVm(doc(VmKind.KubeVirtVm, text), { strict: true });
    assert.match(
      r.message ?? "",
      /^The requested MAC address is reserved for the in-pod bridge\. Please choose another one\., vmNetworkCIDR "10\.244\.1\.0\/24" overlaps/,
    );
  });
  it("refuses an old object of another kind", () => {
    assert.throws(
      () => admitVm(doc(VmKind.VirtinkVm, VIRTINK_UNPAIRED), { old: doc(VmKind.KubeVirtVm, OVERLAP) }),
      TypeError,
    );
  });
});

describe("admitVms", () => {
  it("is allowed only when every VM is", () => {
    const r = admitVms([doc(VmKind.KubeVirtVm, OVERLAP), doc(VmKind.KubeVirtVmi, SRIOV_DOWN)]);
    assert.equal(r.allowed, false);
    assert.equal(r.objects.length, 2);
    assert.equal(r.objects[0]?.allowed, true);
    assert.match(r.message ?? "", /^sriov-down: /);
    assert.equal(r.warnings.length, 1);
  });
});
