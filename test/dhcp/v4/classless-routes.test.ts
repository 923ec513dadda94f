import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeClasslessRoutes, describeRoutes, encodeClasslessRoutes } from "../../../src/dhcp/v4/classless-routes.ts";

describe("encodeClasslessRoutes", () => {
  // RFC 3442 §2 destination descriptor table: subnet, mask width, significant octets.
  const rfc3442: [string, number[]][] = [
    ["0.0.0.0/0", [0]],
    ["10.0.0.0/8", [8, 10]],
    ["10.0.0.0/24", [24, 10, 0, 0]],
    ["10.17.0.0/16", [16, 10, 17]],
    ["10.27.129.0/24", [24, 10, 27, 129]],
    ["10.229.0.128/25", [25, 10, 229, 0, 128]],
    ["10.198.122.47/32", [32, 10, 198, 122, 47]],
  ];
  for (const [dst, descriptor] of rfc3442) {
    it(`encodes the RFC 3442 descriptor of ${dst}`, () => {
      const encoded = encodeClasslessRoutes([{ dst, gateway: "192.0.2.1" }]);
      assert.deepEqual([...encoded], [...descriptor, 192, 0, 2, 1]);
      assert.deepEqual(describeRoutes(decodeClasslessRoutes(encoded)), [`${dst} via 192.0.2.1`]);
    });
  }
  it("matches KubeVirt's example", () => {
    const encoded = encodeClasslessRoutes([
      { dst: "10.0.0.0/8", gateway: "10.1.2.3" },
      { dst: "192.168.1.0/24", gateway: "192.168.2.3" },
    ]);
    assert.deepEqual([...encoded], [8, 10, 10, 1, 2, 3, 24, 192, 168, 1, 192, 168, 2, 3]);
  });
  it("moves default routes to the end and writes on-link gateways as 0.0.0.0", () => {
    const encoded = encodeClasslessRoutes([
      { dst: "0.0.0.0/0", gateway: "10.244.1.1" },
      { dst: "10.244.1.0/24" },
      { dst: "10.96.0.0/12", gateway: "0.0.0.0" },
    ]);
    assert.deepEqual(describeRoutes(decodeClasslessRoutes(encoded)), [
      "10.244.1.0/24 via 0.0.0.0",
      "10.96.0.0/12 via 0.0.0.0",
      "0.0.0.0/0 via 10.244.1.1",
    ]);
  });
  it("rejects a destination with host bits", () => {
    assert.throws(() => encodeClasslessRoutes([{ dst: "10.1.2.3/8", gateway: "10.0.0.1" }]), RangeError);
  });
});

describe("decodeClasslessRoutes", () => {
  const bad: [string, number[], RegExp][] = [
    ["a width above 32", [33, 1, 2, 3, 4, 5, 1, 2, 3, 4], /mask width "33"/],
    ["a missing router", [8, 10, 1, 2, 3], /truncated/],
    ["missing destination octets", [24, 10], /truncated/],
    ["destination bits beyond the width", [9, 10, 255, 1, 2, 3, 4], /beyond the width/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => decodeClasslessRoutes(Uint8Array.from(bytes)), message));
  }
});
