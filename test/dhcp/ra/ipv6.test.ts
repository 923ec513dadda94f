import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stripZone } from "../../../src/api/ip.ts";
import { isUnspecified, linkLocalFromMac, multicastMac, solicitedNodeMulticast } from "../../../src/dhcp/ra/ipv6.ts";

describe("linkLocalFromMac", () => {
  // Captured from the Linux kernel: the link-local address it configured for each veth MAC.
  const cases: [string, string][] = [
    ["02:11:7c:e1:56:f0", "fe80::11:7cff:fee1:56f0"],
    ["96:22:56:b6:26:04", "fe80::9422:56ff:feb6:2604"],
    ["02:00:00:00:00:00", "fe80::ff:fe00:0"],
    ["00:1A:2B:3C:4D:5E", "fe80::21a:2bff:fe3c:4d5e"],
  ];
  for (const [mac, expected] of cases) {
    it(`derives ${expected} from ${mac}`, () => assert.equal(linkLocalFromMac(mac), expected));
  }
});

describe("solicitedNodeMulticast", () => {
  // The kernel joined these groups (MLDv2 reports in the capture) for the addresses above.
  const cases: [string, string][] = [
    ["fe80::9422:56ff:feb6:2604", "ff02::1:ffb6:2604"],
    ["fe80::11:7cff:fee1:56f0", "ff02::1:ffe1:56f0"],
    ["fd10:0:2::2", "ff02::1:ff00:2"],
  ];
  for (const [address, expected] of cases) {
    it(`maps ${address} to ${expected}`, () => assert.equal(solicitedNodeMulticast(address), expected));
  }
});

describe("multicastMac", () => {
  it("maps groups to 33:33 plus the low 32 bits (RFC 2464 §7)", () => {
    assert.equal(multicastMac("ff02::1:ffb6:2604"), "33:33:ff:b6:26:04");
    assert.equal(multicastMac("ff02::2"), "33:33:00:00:00:02");
  });
  it("rejects a unicast address", () => assert.throws(() => multicastMac("fe80::1"), RangeError));
});

describe("isUnspecified and stripZone", () => {
  it("recognises :: in any spelling and ignores a zone", () => {
    assert.equal(isUnspecified("::"), true);
    assert.equal(isUnspecified("0:0::0"), true);
    assert.equal(isUnspecified("::%eth0"), true);
    assert.equal(isUnspecified("::1"), false);
    assert.equal(isUnspecified("garbage"), false);
  });
  it("strips the zone of a link-local peer", () => assert.equal(stripZone("fe80::1%k6t-eth0"), "fe80::1"));
});
