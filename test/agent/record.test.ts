import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RecordError, readRecord, writeRecord } from "../../src/agent/record.ts";
import { InterfaceName } from "../../src/plan/namescheme.ts";
import type { DhcpInterfacePlan } from "../../src/runtime/dhcp/config.ts";

describe("agent pod record", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-record-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips pods, interface names revived, written 0600 with no temp file left", async () => {
    const path = join(dir, "agent-pods.json");
    const interfaces = [
      { ra: { interface: InterfaceName.of("k6t-eth0"), mtu: 1450 } },
    ] as unknown as DhcpInterfacePlan[];
    await writeRecord(path, [{ podId: "a", netns: "vmnt-a", interfaces }]);
    await writeRecord(path, [
      { podId: "a", netns: "vmnt-a", interfaces },
      { podId: "b", netns: "vmnt-b", interfaces: [] },
    ]);
    const pods = await readRecord(path);
    assert.deepEqual(
      pods.map((p) => [p.podId, p.netns, p.interfaces.length]),
      [
        ["a", "vmnt-a", 1],
        ["b", "vmnt-b", 0],
      ],
    );
    assert.ok(pods[0]?.interfaces[0]?.ra?.interface instanceof InterfaceName);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ["agent-pods.json"]);
  });

  it("reads a missing record as no pods", async () => {
    assert.deepEqual(await readRecord(join(dir, "absent.json")), []);
  });

  const bad: { name: string; text: string }[] = [
    { name: "truncated JSON", text: '{"version":1,"pods":[' },
    { name: "another version", text: '{"version":2,"pods":[]}' },
    { name: "pods not a list", text: '{"version":1,"pods":{}}' },
    { name: "a pod without podId", text: '{"version":1,"pods":[{"netns":"n","interfaces":[]}]}' },
    {
      name: "a pod with bad interfaces",
      text: '{"version":1,"pods":[{"podId":"p","netns":"n","interfaces":[{"ra":{}}]}]}',
    },
  ];
  for (const [i, c] of bad.entries()) {
    it(`refuses ${c.name} with RecordError`, async () => {
      const path = join(dir, `bad-${i}.json`);
      writeFileSync(path, c.text);
      await assert.rejects(readRecord(path), RecordError);
    });
  }
});
