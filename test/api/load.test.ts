import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { locate } from "../../src/admission/cause.ts";
import { decodeKubeVirtVmi } from "../../src/api/kubevirt.ts";
import { loadObjects, UnknownObjectError } from "../../src/api/load.ts";
import { SourceSyntaxError } from "../../src/api/source.ts";

const multiDoc = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: vmi}
---
apiVersion: virt.virtink.smartx.com/v1alpha1
kind: VirtualMachine
metadata: {name: vk}
---
apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata: {name: kubevirt}
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: nad}
---
`;

const json = JSON.stringify(
  { apiVersion: "virt.virtink.smartx.com/v1alpha1", kind: "VirtualMachine", metadata: { name: "j" } },
  null,
  2,
);

const list = `apiVersion: v1
kind: List
items:
- apiVersion: k8s.cni.cncf.io/v1
  kind: NetworkAttachmentDefinition
  metadata: {name: a}
- apiVersion: kubevirt.io/v1
  kind: VirtualMachineInstance
  metadata: {name: b}
  spec:
    domain:
      devices:
        interfaces:
        - name: default
          ports:
          - port: "80"
`;

const classifyCases: { name: string; text: string; kinds: string[] }[] = [
  {
    name: "a multi-document YAML with every kind",
    text: multiDoc,
    kinds: ["kubevirt-vm", "kubevirt-vmi", "virtink-vm", "kubevirt-cr", "nad"],
  },
  { name: "a JSON document", text: json, kinds: ["virtink-vm"] },
  { name: "a List", text: list, kinds: ["nad", "kubevirt-vmi"] },
  { name: "an empty file", text: "", kinds: [] },
  { name: "a JSON List", text: JSON.stringify({ apiVersion: "v1", kind: "List", items: [] }), kinds: [] },
];

describe("loadObjects", () => {
  for (const c of classifyCases) {
    it(`classifies ${c.name}`, () => {
      assert.deepEqual(
        loadObjects(c.text, "f.yaml").map((o) => o.kind),
        c.kinds,
      );
    });
  }

  it("gives List items values and positions relative to the item", () => {
    const objs = loadObjects(list, "list.yaml");
    const vmi = objs[1];
    assert.ok(vmi);
    assert.equal(vmi.listIndex, 1);
    assert.equal((vmi.doc.value as { metadata: { name: string } }).metadata.name, "b");
    const causes = locate(decodeKubeVirtVmi(vmi.doc.value).causes, vmi.doc);
    assert.equal(causes.length, 1);
    assert.equal(causes[0]?.field, "spec.domain.devices.interfaces[0].ports[0].port");
    assert.equal(causes[0]?.line, 16);
    assert.equal(vmi.doc.lineText(causes[0]?.line ?? 0), '          - port: "80"');
    assert.deepEqual(vmi.doc.positionOf([]), { line: 7, column: 3 });
  });

  const errorCases: { name: string; text: string; message: RegExp; line?: number }[] = [
    {
      name: "an unknown kind",
      text: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
      message:
        /^pod\.yaml:2:1: unknown object with apiVersion "v1" and kind "Pod"; vmnet accepts kubevirt\.io\/v1 VirtualMachine, kubevirt\.io\/v1 VirtualMachineInstance, virt\.virtink\.smartx\.com\/v1alpha1 VirtualMachine, kubevirt\.io\/v1 KubeVirt, k8s\.cni\.cncf\.io\/v1 NetworkAttachmentDefinition/,
      line: 2,
    },
    {
      name: "a known kind under the wrong apiVersion",
      text: "apiVersion: kubevirt.io/v1\nkind: KubeVirt\n---\napiVersion: kubevirt.io/v1alpha1\nkind: VirtualMachine\n",
      message: /^pod\.yaml:5:1: unknown object with apiVersion "kubevirt\.io\/v1alpha1" and kind "VirtualMachine"/,
      line: 5,
    },
    {
      name: "a document without apiVersion and kind",
      text: "spec: {}\n",
      message: /^pod\.yaml:1:1: unknown object with apiVersion missing and kind missing/,
      line: 1,
    },
    {
      name: "a scalar document",
      text: "just text\n",
      message: /^pod\.yaml:1:1: the document is not an object/,
      line: 1,
    },
    {
      name: "an unknown kind inside a List",
      text: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n",
      message: /^pod\.yaml:5:3: unknown object with apiVersion "v1" and kind "Service"/,
      line: 5,
    },
  ];
  for (const c of errorCases) {
    it(`rejects ${c.name} naming the file and line`, () => {
      assert.throws(
        () => loadObjects(c.text, "pod.yaml"),
        (e: unknown) =>
          e instanceof UnknownObjectError &&
          c.message.test(e.message) &&
          e.file === "pod.yaml" &&
          e.position?.line === c.line,
      );
    });
  }

  it("passes syntax errors through as SourceSyntaxError", () => {
    assert.throws(() => loadObjects("a: [\n", "bad.yaml"), SourceSyntaxError);
  });
});
