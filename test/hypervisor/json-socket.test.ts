import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandError, commandLine, LineBuffer } from "../../src/hypervisor/json-socket.ts";

function drain(lines: LineBuffer): string[] {
  const out: string[] = [];
  for (let l = lines.next(); l !== undefined; l = lines.next()) out.push(l);
  return out;
}

describe("LineBuffer", () => {
  it("LineBuffer.next joins a line split across chunks, inside a multi-byte character too", () => {
    const bytes = Buffer.from('{"desc":"Gerät"}\r\n\n{"return":{}}\n{"par');
    const lines = new LineBuffer();
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "ä"
    lines.push(bytes.subarray(0, cut));
    assert.deepEqual(drain(lines), []);
    lines.push(bytes.subarray(cut));
    assert.deepEqual(drain(lines), ['{"desc":"Gerät"}', '{"return":{}}']);
    lines.push(Buffer.from('tial":1}\n'));
    assert.deepEqual(drain(lines), ['{"partial":1}']);
  });

  it("LineBuffer.dropThroughLast keeps only what follows the last marker byte", () => {
    const lines = new LineBuffer();
    lines.push(Buffer.from('{"stale":1}\n{"half'));
    lines.push(Buffer.from([0xff, 0x7b, 0x7d, 0xff]));
    lines.push(Buffer.from('{"return":7}\n'));
    lines.dropThroughLast(0xff);
    assert.deepEqual(drain(lines), ['{"return":7}']);
    lines.dropThroughLast(0xff);
    lines.push(Buffer.from("x\n"));
    assert.deepEqual(drain(lines), ["x"]);
  });
});

describe("commandLine and commandError", () => {
  const table: readonly {
    readonly name: string;
    readonly args?: Readonly<Record<string, unknown>>;
    readonly id?: string;
    readonly want: string;
  }[] = [
    { name: "bare", want: '{"execute":"query-status"}\n' },
    { name: "with arguments", args: { id: 5 }, want: '{"execute":"query-status","arguments":{"id":5}}\n' },
    { name: "with an id", id: "vmnet-1", want: '{"execute":"query-status","id":"vmnet-1"}\n' },
  ];
  for (const t of table) {
    it(`commandLine renders a command ${t.name}`, () => {
      assert.equal(commandLine("query-status", t.args, t.id), t.want);
    });
  }

  it("commandError reads class and desc, and nothing from a success", () => {
    assert.deepEqual(commandError({ error: { class: "GenericError", desc: "no" } }), {
      errorClass: "GenericError",
      desc: "no",
    });
    assert.deepEqual(commandError({ error: {} }), { errorClass: "", desc: "" });
    assert.equal(commandError({ return: {} }), undefined);
  });
});
