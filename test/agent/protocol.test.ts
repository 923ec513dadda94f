import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import {
  AgentError,
  AgentErrorCode,
  decodeInterfaces,
  decodeRequest,
  encodeResponse,
  isRetryable,
  MAX_LINE_BYTES,
  readLines,
  requestIdOf,
  toWireError,
} from "../../src/agent/protocol.ts";
import { InterfaceName } from "../../src/plan/namescheme.ts";

describe("decodeRequest", () => {
  const good: { name: string; line: string; want: unknown }[] = [
    { name: "numeric id, no params", line: '{"id":1,"method":"ping"}', want: { id: 1, method: "ping", params: {} } },
    {
      name: "string id with params",
      line: '{"id":"a","method":"stop","params":{"podId":"p"}}',
      want: { id: "a", method: "stop", params: { podId: "p" } },
    },
    {
      name: "null params",
      line: '{"id":2,"method":"status","params":null}',
      want: { id: 2, method: "status", params: {} },
    },
  ];
  for (const c of good) {
    it(`decodes ${c.name}`, () => assert.deepEqual(decodeRequest(c.line), c.want));
  }

  const bad: { name: string; line: string; code: AgentErrorCode }[] = [
    { name: "invalid JSON", line: "{", code: AgentErrorCode.BadRequest },
    { name: "a string", line: '"ping"', code: AgentErrorCode.BadRequest },
    { name: "an array", line: "[]", code: AgentErrorCode.BadRequest },
    { name: "a missing id", line: '{"method":"ping"}', code: AgentErrorCode.BadRequest },
    { name: "a fractional id", line: '{"id":1.5,"method":"ping"}', code: AgentErrorCode.BadRequest },
    { name: "a non-string method", line: '{"id":1,"method":7}', code: AgentErrorCode.BadRequest },
    { name: "an unknown method", line: '{"id":1,"method":"reboot"}', code: AgentErrorCode.UnknownMethod },
    { name: "an inherited name as method", line: '{"id":1,"method":"toString"}', code: AgentErrorCode.UnknownMethod },
    { name: "array params", line: '{"id":1,"method":"ping","params":[1]}', code: AgentErrorCode.BadRequest },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with "${c.code}"`, () => {
      assert.throws(
        () => decodeRequest(c.line),
        (e: unknown) => e instanceof AgentError && e.code === c.code,
      );
    });
  }
});

describe("requestIdOf", () => {
  const cases: { line: string; want: number | string | null }[] = [
    { line: '{"id":7,"method":"nope"}', want: 7 },
    { line: '{"id":"x"}', want: "x" },
    { line: '{"id":[1]}', want: null },
    { line: "garbage", want: null },
  ];
  for (const c of cases)
    it(`reads ${JSON.stringify(c.want)} from ${c.line}`, () => assert.equal(requestIdOf(c.line), c.want));
});

describe("AgentError", () => {
  const cases: { code: AgentErrorCode; retryable: boolean }[] = [
    { code: AgentErrorCode.BadRequest, retryable: false },
    { code: AgentErrorCode.UnknownMethod, retryable: false },
    { code: AgentErrorCode.NotServed, retryable: false },
    { code: AgentErrorCode.AlreadyServed, retryable: false },
    { code: AgentErrorCode.Failed, retryable: false },
    { code: AgentErrorCode.Locked, retryable: false },
    { code: AgentErrorCode.ShuttingDown, retryable: true },
    { code: AgentErrorCode.Unavailable, retryable: true },
    { code: AgentErrorCode.Timeout, retryable: true },
    { code: AgentErrorCode.ConnectionLost, retryable: true },
  ];
  for (const c of cases) {
    it(`"${c.code}" is ${c.retryable ? "" : "not "}retryable`, () => {
      assert.equal(isRetryable(c.code), c.retryable);
      assert.equal(new AgentError(c.code, "m").retryable, c.retryable);
    });
  }

  it("toWireError keeps an AgentError's code and maps other errors to failed", () => {
    assert.deepEqual(toWireError(new AgentError(AgentErrorCode.NotServed, "gone")), {
      code: "not-served",
      message: "gone",
      retryable: false,
    });
    assert.deepEqual(toWireError(new RangeError("bad prefix")), {
      code: "failed",
      message: "bad prefix",
      retryable: false,
    });
  });

  it("encodeResponse writes one line", () => {
    assert.equal(encodeResponse({ id: 1, result: null }), '{"id":1,"result":null}\n');
  });
});

describe("readLines", () => {
  /** Feeds `chunks` through readLines; returns the lines read and how many overflows were reported. */
  function read(chunks: readonly string[]): { lines: string[]; overflows: number } {
    const stream = new PassThrough();
    const out = { lines: [] as string[], overflows: 0 };
    readLines(
      stream,
      (line) => out.lines.push(line),
      () => {
        out.overflows += 1;
      },
    );
    // The stream decodes on write with setEncoding: emit what a connection would, chunk by chunk.
    for (const chunk of chunks) stream.emit("data", chunk);
    return out;
  }

  const cases: { name: string; chunks: string[]; lines: string[]; overflows: number }[] = [
    { name: "one line per chunk", chunks: ["a\n", "b\n"], lines: ["a", "b"], overflows: 0 },
    { name: "several lines in one chunk", chunks: ["a\nb\nc\n"], lines: ["a", "b", "c"], overflows: 0 },
    {
      name: "a line split over chunks",
      chunks: ['{"id"', ":1,", '"x":2}\nb', "c\n"],
      lines: ['{"id":1,"x":2}', "bc"],
      overflows: 0,
    },
    { name: "blank lines skipped", chunks: ["\n  \na\n\n"], lines: ["a"], overflows: 0 },
    { name: "an unterminated rest waits", chunks: ["a\nb"], lines: ["a"], overflows: 0 },
    {
      name: "a rest over the limit dropped, later lines read",
      chunks: ["x".repeat(MAX_LINE_BYTES), "x", "\nnext\n"],
      lines: ["next"],
      overflows: 1,
    },
  ];
  for (const c of cases) {
    it(`reads ${c.name}`, () => assert.deepEqual(read(c.chunks), { lines: c.lines, overflows: c.overflows }));
  }
});

describe("decodeInterfaces", () => {
  it("turns the names JSON made of InterfaceName back into InterfaceName", () => {
    const plans = [
      { dhcpv4: { serverInterface: InterfaceName.of("k6t-eth0"), serverIdentifier: "169.254.75.10" } },
      { dhcpv6: { serverInterface: InterfaceName.of("k6t-eth0") }, ra: { interface: InterfaceName.of("k6t-eth0") } },
      {},
    ];
    const decoded = decodeInterfaces(JSON.parse(JSON.stringify(plans)));
    assert.ok(decoded[0]?.dhcpv4?.serverInterface instanceof InterfaceName);
    assert.equal(decoded[0]?.dhcpv4?.serverInterface.value, "k6t-eth0");
    assert.equal(decoded[0]?.dhcpv4?.serverIdentifier, "169.254.75.10");
    assert.ok(decoded[1]?.dhcpv6?.serverInterface instanceof InterfaceName);
    assert.ok(decoded[1]?.ra?.interface instanceof InterfaceName);
    assert.deepEqual(decoded[2], {});
    assert.equal(JSON.stringify(decoded), JSON.stringify(plans));
  });

  const bad: { name: string; value: unknown }[] = [
    { name: "not an array", value: { dhcpv4: {} } },
    { name: "an item not an object", value: [1] },
    { name: "a plan not an object", value: [{ ra: "k6t-eth0" }] },
    { name: "a missing interface name", value: [{ dhcpv4: {} }] },
    { name: "an interface name too long", value: [{ dhcpv6: { serverInterface: "sixteen-bytes-xx" } }] },
    { name: "an interface name with a slash", value: [{ ra: { interface: "a/b" } }] },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} as bad-request`, () => {
      assert.throws(
        () => decodeInterfaces(c.value),
        (e: unknown) => e instanceof AgentError && e.code === AgentErrorCode.BadRequest,
      );
    });
  }
});
