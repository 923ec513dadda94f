import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDocuments, parsePath, renderPath, SourceSyntaxError } from "../../src/api/source.ts";

describe("renderPath", () => {
  it("renders keys with dots and indexes in brackets", () => {
    assert.equal(
      renderPath(["spec", "domain", "devices", "interfaces", 0, "name"]),
      "spec.domain.devices.interfaces[0].name",
    );
  });
  it("round-trips through parsePath", () => {
    const p = ["spec", "networks", 12, "multus", "networkName"];
    assert.deepEqual(parsePath(renderPath(p)), p);
  });
});

describe("parseDocuments", () => {
  const text =
    'apiVersion: v1\nspec:\n  networks:\n  - name: default\n    pod: {}\n---\n{"kind": "X",\n "a": [1, {"b": 2}]}\n';
  const docs = parseDocuments(text, "vm.yaml");
  it("reads every document of a multi-document text, YAML and JSON alike", () => {
    assert.equal(docs.length, 2);
    assert.deepEqual(docs[1]?.value, { kind: "X", a: [1, { b: 2 }] });
  });
  it("knows the position of keys and list items", () => {
    assert.deepEqual(docs[0]?.positionOf(["spec", "networks", 0, "name"]), { line: 4, column: 5 });
    assert.deepEqual(docs[0]?.positionOf(["spec", "networks", 0, "pod"]), { line: 5, column: 5 });
    assert.deepEqual(docs[1]?.positionOf(["a", 1, "b"]), { line: 8, column: 12 });
  });
  it("falls back to the nearest ancestor for a field that is not in the source", () => {
    assert.deepEqual(docs[0]?.nearestPositionOf(["spec", "networks", 0, "multus", "networkName"]), {
      line: 4,
      column: 5,
    });
  });
  it("reports the line of a syntax error", () => {
    assert.throws(
      () => parseDocuments("a: 1\nb: [\n", "bad.yaml"),
      (e: unknown) => e instanceof SourceSyntaxError && e.position !== undefined && e.message.startsWith("bad.yaml:"),
    );
  });
  it("rejects duplicate keys", () => {
    assert.throws(() => parseDocuments("a: 1\na: 2\n", "dup.yaml"), SourceSyntaxError);
  });
});
