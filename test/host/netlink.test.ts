import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostExecutor, RecordingExecutor } from "../../src/host/exec.ts";
import {
  classifyFailure,
  failedBatchLine,
  IprouteNetlink,
  type Link,
  type Netlink,
  NetlinkBatchError,
  type NetlinkFailure,
  type NetlinkOp,
  parseAddresses,
  parseLinks,
  parseMainRoutes,
  parseRoutes,
  type Route,
  renderOp,
  splitJsonTexts,
} from "../../src/host/netlink.ts";
import { FakeNetlink } from "../../src/host/netlink-fake.ts";
import { kernelSkipReason, withNetns } from "./harness.ts";

describe("renderOp", () => {
  const cases: { op: NetlinkOp; line: string }[] = [
    { op: { op: "addBridge", name: "k6t-eth0" }, line: "link add name k6t-eth0 type bridge" },
    { op: { op: "addDummy", name: "eth0" }, line: "link add name eth0 type dummy" },
    { op: { op: "addTap", name: "tap0" }, line: "tuntap add dev tap0 mode tap" },
    {
      op: { op: "addTap", name: "tap0", multiQueue: true, vnetHdr: true, user: 107, group: 107 },
      line: "tuntap add dev tap0 mode tap multi_queue vnet_hdr user 107 group 107",
    },
    {
      op: { op: "addMacvtap", name: "mvt0", link: "eth0" },
      line: "link add link eth0 name mvt0 type macvtap mode bridge",
    },
    { op: { op: "rename", name: "eth0", newName: "eth0-nic" }, line: "link set dev eth0 name eth0-nic" },
    { op: { op: "setMac", name: "br0", mac: "02:00:00:00:00:00" }, line: "link set dev br0 address 02:00:00:00:00:00" },
    { op: { op: "setMtu", name: "tap0", mtu: 1400 }, line: "link set dev tap0 mtu 1400" },
    { op: { op: "setMaster", name: "tap0", master: "k6t-eth0" }, line: "link set dev tap0 master k6t-eth0" },
    { op: { op: "setNoMaster", name: "tap0" }, line: "link set dev tap0 nomaster" },
    { op: { op: "setUp", name: "tap0" }, line: "link set dev tap0 up" },
    { op: { op: "setDown", name: "tap0" }, line: "link set dev tap0 down" },
    { op: { op: "flushAddresses", name: "eth0" }, line: "address flush dev eth0" },
    {
      op: { op: "addAddress", name: "k6t-eth0", address: "10.0.2.1/24" },
      line: "address add 10.0.2.1/24 dev k6t-eth0",
    },
    {
      op: { op: "addAddress", name: "k6t-eth0", address: "fd10:0:2::1/120", noDad: true },
      line: "address add fd10:0:2::1/120 dev k6t-eth0 nodad",
    },
    { op: { op: "setLearningOff", name: "eth0-nic" }, line: "link set dev eth0-nic type bridge_slave learning off" },
    {
      op: { op: "addRoute", name: "eth0", dst: "default", via: "10.244.0.1" },
      line: "route add default via 10.244.0.1 dev eth0",
    },
    { op: { op: "deleteLink", name: "tap0" }, line: "link del dev tap0" },
    { op: { op: "deleteAddress", name: "eth0", address: "10.0.2.1/24" }, line: "address del 10.0.2.1/24 dev eth0" },
    {
      op: { op: "addRoute", name: "eth0", dst: "10.8.0.0/16", via: "10.0.2.254", protocol: "dhcp", metric: 100 },
      line: "route add 10.8.0.0/16 via 10.0.2.254 dev eth0 proto dhcp metric 100",
    },
    { op: { op: "addRoute", name: "eth0", dst: "default", family: 6 }, line: "route add ::/0 dev eth0" },
    { op: { op: "addRoute", name: "eth0", dst: "default" }, line: "route add default dev eth0" },
    {
      op: { op: "addRoute", name: "eth0", dst: "default", via: "fe80::1", protocol: "ra", metric: 1024 },
      line: "route add default via fe80::1 dev eth0 proto ra metric 1024",
    },
  ];
  for (const c of cases) {
    it(`renders ${c.op.op} as "${c.line}"`, () => assert.equal(renderOp(c.op), c.line));
  }
});

describe("FakeNetlink.batch validation", () => {
  const bad: { name: string; op: NetlinkOp }[] = [
    { name: "a 16-byte name", op: { op: "addBridge", name: "abcdefghijklmnop" } },
    { name: "an empty name", op: { op: "addBridge", name: "" } },
    { name: "a name with a slash", op: { op: "addBridge", name: "a/b" } },
    { name: "a rename to 16 bytes", op: { op: "rename", name: "eth0", newName: "eth0-nic-123456x" } },
    { name: "an uppercase MAC", op: { op: "setMac", name: "eth0", mac: "02:00:00:00:00:AA" } },
    { name: "an MTU below 68", op: { op: "setMtu", name: "eth0", mtu: 67 } },
    { name: "an address without prefix", op: { op: "addAddress", name: "eth0", address: "10.0.2.1" } },
    { name: "an IPv4 prefix over 32", op: { op: "addAddress", name: "eth0", address: "10.0.2.1/33" } },
    { name: "a bad octet", op: { op: "addAddress", name: "eth0", address: "10.0.2.256/24" } },
    { name: "an address to delete without prefix", op: { op: "deleteAddress", name: "eth0", address: "10.0.2.1" } },
    {
      name: "an IPv6 route to an IPv4 gateway",
      op: { op: "addRoute", name: "eth0", dst: "fd00::/8", via: "10.0.0.1" },
    },
    {
      name: "family 6 with an IPv4 destination",
      op: { op: "addRoute", name: "eth0", dst: "10.0.0.0/8", family: 6 },
    },
    { name: "a protocol with a space", op: { op: "addRoute", name: "eth0", dst: "default", protocol: "a b" } },
    { name: "a protocol number over 255", op: { op: "addRoute", name: "eth0", dst: "default", protocol: "256" } },
    { name: "a negative metric", op: { op: "addRoute", name: "eth0", dst: "default", metric: -1 } },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with a RangeError before applying anything`, async () => {
      const nl = new FakeNetlink();
      await assert.rejects(nl.batch([{ op: "addBridge", name: "br0" }, c.op]), RangeError);
      assert.equal((await nl.links()).length, 1);
    });
  }
});

describe("ip output parsing", () => {
  it("parseLinks reads kind, master, tun info and learning", () => {
    const out = JSON.stringify([
      {
        ifindex: 4,
        ifname: "tap0",
        flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
        mtu: 1400,
        operstate: "DOWN",
        master: "br0",
        address: "7e:d1:da:b6:da:1f",
        linkinfo: {
          info_kind: "tun",
          info_data: {
            type: "tap",
            pi: false,
            vnet_hdr: false,
            multi_queue: true,
            persist: true,
            user: 107,
            group: "kvm",
          },
          info_slave_kind: "bridge",
          info_slave_data: { learning: false },
        },
      },
    ]);
    assert.deepEqual(parseLinks(out, "root:x:0:\nkvm:x:107:\n"), [
      {
        name: "tap0",
        ifindex: 4,
        kind: "tun",
        mac: "7e:d1:da:b6:da:1f",
        mtu: 1400,
        master: "br0",
        operstate: "DOWN",
        flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
        tun: { type: "tap", multiQueue: true, vnetHdr: false, persist: true, user: 107, group: 107 },
        learning: false,
      },
    ]);
  });
  it("parseAddresses flattens addr_info", () => {
    const out =
      '[{"ifindex":3,"ifname":"br1","addr_info":[{"family":"inet","local":"10.1.0.1","prefixlen":24,"scope":"global"}]}]';
    assert.deepEqual(parseAddresses(out), [
      { ifname: "br1", ifindex: 3, family: "inet", local: "10.1.0.1", prefixlen: 24, scope: "global" },
    ]);
  });
  it("parseRoutes keeps gateway and dev", () => {
    const out = '[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]}]';
    assert.deepEqual(parseRoutes(out), [{ dst: "default", gateway: "10.0.0.1", dev: "eth0" }]);
  });
  it("parses empty output as no entries", () => assert.deepEqual(parseLinks(""), []));
  it("splitJsonTexts splits one batch's arrays, brackets inside strings included", () => {
    assert.deepEqual(splitJsonTexts('[{"a":"x]\\"["}]\n[]\n[{"b":[1]}]\n'), ['[{"a":"x]\\"["}]', "[]", '[{"b":[1]}]']);
  });
  it("splitJsonTexts rejects truncated output", () => assert.throws(() => splitJsonTexts('[{"a":1}'), SyntaxError));
  it("parseMainRoutes keeps the main table per family, as plain `ip -json route show` prints it", () => {
    // `ip -n ns -d -j route show table all` (iproute2 6.1) after `ip route add 10.9.0.0/16 via 10.0.2.2`,
    // `ip -6 route add default dev d0` and `ip route add 10.7.0.0/16 dev d0 table 100`.
    const out =
      '[{"type":"unicast","dst":"10.7.0.0/16","dev":"d0","table":"100","protocol":"boot","scope":"link","flags":[]},' +
      '{"type":"unicast","dst":"10.0.2.0/24","dev":"d0","table":"main","protocol":"kernel","scope":"link","prefsrc":"10.0.2.1","flags":[]},' +
      '{"type":"unicast","dst":"10.9.0.0/16","gateway":"10.0.2.2","dev":"d0","table":"main","protocol":"boot","scope":"global","flags":[]},' +
      '{"type":"local","dst":"10.0.2.1","dev":"d0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.0.2.1","flags":[]},' +
      '{"type":"unicast","dst":"fd00::/64","dev":"d0","table":"main","protocol":"kernel","scope":"global","metric":256,"flags":[],"pref":"medium"},' +
      '{"type":"unicast","dst":"default","dev":"d0","table":"main","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"},' +
      '{"type":"local","dst":"fd00::1","dev":"d0","table":"local","protocol":"kernel","scope":"global","metric":0,"flags":[],"pref":"medium"}]';
    assert.deepEqual(parseMainRoutes(out), {
      4: [
        { dst: "10.0.2.0/24", dev: "d0", protocol: "kernel", scope: "link", prefsrc: "10.0.2.1" },
        { dst: "10.9.0.0/16", gateway: "10.0.2.2", dev: "d0" },
      ],
      6: [
        { dst: "fd00::/64", dev: "d0", protocol: "kernel", metric: 256 },
        { dst: "default", dev: "d0", metric: 1024 },
      ],
    });
  });
  it("failedBatchLine reads the failing line", () =>
    assert.equal(failedBatchLine("RTNETLINK answers: File exists\nCommand failed -:2\n"), 2));
  const failures: { stderr: string; reason: NetlinkFailure }[] = [
    { stderr: "RTNETLINK answers: File exists", reason: "exists" },
    { stderr: "Error: ipv4: Address already assigned.", reason: "exists" },
    { stderr: 'Cannot find device "nope"', reason: "notFound" },
    { stderr: "RTNETLINK answers: Operation not supported", reason: "notSupported" },
    { stderr: "Error: Unknown device type.", reason: "notSupported" },
    { stderr: "Error: mtu greater than device maximum.", reason: "invalid" },
    { stderr: "RTNETLINK answers: Device or resource busy", reason: "busy" },
    { stderr: "Error: ipv4: Address not found.", reason: "notFound" },
    { stderr: "Error: ipv6: address not found.", reason: "notFound" },
    { stderr: "Error: Device for nexthop is not up.", reason: "invalid" },
  ];
  for (const f of failures) {
    it(`classifyFailure maps "${f.stderr}" to ${f.reason}`, () => assert.equal(classifyFailure(f.stderr), f.reason));
  }
});

// ---- the contract: the same table against the fake and the real kernel ---------------------------------------------

/**
 * What a case compares: links other than loopback, without the kernel's random MACs unless a case set them. A bridge's
 * operstate is left out: the kernel's depends on the order of port and bridge events, which the fake does not model.
 */
interface LinkView {
  name: string;
  kind: string | undefined;
  mtu: number;
  master: string | undefined;
  up: boolean;
  operstate?: string;
  mac?: string;
  learning?: boolean;
  tun?: Link["tun"];
}

function view(links: Link[], macs: ReadonlySet<string>): LinkView[] {
  return links
    .filter((l) => l.name !== "lo")
    .map((l) => {
      const v: LinkView = {
        name: l.name,
        kind: l.kind,
        mtu: l.mtu,
        master: l.master,
        up: l.flags.includes("UP"),
      };
      if (l.kind !== "bridge") v.operstate = l.operstate;
      if (macs.has(l.name)) v.mac = l.mac;
      if (l.learning !== undefined) v.learning = l.learning;
      if (l.tun !== undefined) v.tun = l.tun;
      return v;
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

interface ContractCase {
  name: string;
  /** Batches applied in order; the last one may fail. */
  batches: NetlinkOp[][];
  error?: { opIndex: number; reason: NetlinkFailure };
  links: LinkView[];
  /** Links whose MAC is compared. */
  macs?: string[];
  /** Global addresses, as `ifname local/prefixlen`, sorted. */
  addresses?: string[];
  /** IPv4 routes, as `dst [via gw] dev X [proto P] [metric M]`, sorted. */
  routes4?: string[];
  /** IPv6 routes as routes4, without the kernel's link-local `fe80::/64` (the fake has no link-local addresses). */
  routes6?: string[];
}

const route = (r: Route): string =>
  `${r.dst}${r.gateway === undefined ? "" : ` via ${r.gateway}`} dev ${r.dev ?? ""}` +
  `${r.protocol === undefined ? "" : ` proto ${r.protocol}`}${r.metric === undefined ? "" : ` metric ${r.metric}`}`;

const tap = (name: string, over: Partial<LinkView> = {}): LinkView => ({
  name,
  kind: "tun",
  mtu: 1500,
  master: undefined,
  up: false,
  operstate: "DOWN",
  tun: { type: "tap", multiQueue: false, vnetHdr: false, persist: true },
  ...over,
});
const bridge = (name: string, over: Partial<LinkView> = {}): LinkView => ({
  name,
  kind: "bridge",
  mtu: 1500,
  master: undefined,
  up: false,
  ...over,
});

/** A bridge with one IPv4 and one IPv6 address, up (4 operations). */
const addressed: NetlinkOp[] = [
  { op: "addBridge", name: "br0" },
  { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
  { op: "addAddress", name: "br0", address: "fd10:0:2::1/64", noDad: true },
  { op: "setUp", name: "br0" },
];
/** Routes through it: an IPv4 gateway route, an IPv6 on-link default and an IPv6 gateway route. */
const routed: NetlinkOp[] = [
  { op: "addRoute", name: "br0", dst: "10.8.0.0/16", via: "10.0.2.254" },
  { op: "addRoute", name: "br0", dst: "default", family: 6, protocol: "static", metric: 100 },
  { op: "addRoute", name: "br0", dst: "fd20::/64", via: "fd10:0:2::fe" },
];
const v6gw = "fd20::/64 via fd10:0:2::fe dev br0 metric 1024";

const contract: ContractCase[] = [
  {
    name: "bridge binding shape: bridge, multi-queue tap owned by 107, enslaved, learning off, up",
    batches: [
      [
        { op: "addBridge", name: "k6t-eth0" },
        { op: "addTap", name: "tap0", multiQueue: true, user: 107, group: 107 },
        { op: "setMtu", name: "tap0", mtu: 1400 },
        { op: "setMaster", name: "tap0", master: "k6t-eth0" },
        { op: "setLearningOff", name: "tap0" },
        { op: "setUp", name: "tap0" },
        { op: "setUp", name: "k6t-eth0" },
      ],
    ],
    links: [
      bridge("k6t-eth0", { up: true, mtu: 1400 }),
      tap("tap0", {
        mtu: 1400,
        master: "k6t-eth0",
        up: true,
        learning: false,
        tun: { type: "tap", multiQueue: true, vnetHdr: false, persist: true, user: 107, group: 107 },
      }),
    ],
  },
  {
    name: "an explicit bridge MTU stops following its ports",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "setMtu", name: "br0", mtu: 1450 },
        { op: "addTap", name: "tap0" },
        { op: "setMtu", name: "tap0", mtu: 1400 },
        { op: "setMaster", name: "tap0", master: "br0" },
      ],
    ],
    links: [bridge("br0", { mtu: 1450 }), tap("tap0", { mtu: 1400, master: "br0", learning: true })],
  },
  {
    name: "a vnet_hdr tap released from its bridge",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addTap", name: "tap0", vnetHdr: true },
        { op: "setMaster", name: "tap0", master: "br0" },
        { op: "setNoMaster", name: "tap0" },
      ],
    ],
    links: [bridge("br0"), tap("tap0", { tun: { type: "tap", multiQueue: false, vnetHdr: true, persist: true } })],
  },
  {
    name: "rename and set MAC",
    batches: [
      [
        { op: "addTap", name: "tap9" },
        { op: "rename", name: "tap9", newName: "tap1" },
        { op: "setMac", name: "tap1", mac: "02:00:00:00:00:01" },
      ],
    ],
    macs: ["tap1"],
    links: [tap("tap1", { mac: "02:00:00:00:00:01" })],
  },
  {
    name: "duplicate name fails at its line and keeps the applied prefix",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addBridge", name: "br0" },
        { op: "addTap", name: "tap0" },
      ],
    ],
    error: { opIndex: 1, reason: "exists" },
    links: [bridge("br0")],
  },
  {
    name: "operation on a missing link",
    batches: [[{ op: "setUp", name: "nope" }]],
    error: { opIndex: 0, reason: "notFound" },
    links: [],
  },
  {
    name: "rename onto an existing name",
    batches: [
      [
        { op: "addTap", name: "tap0" },
        { op: "addTap", name: "tap1" },
        { op: "rename", name: "tap0", newName: "tap1" },
      ],
    ],
    error: { opIndex: 2, reason: "exists" },
    links: [tap("tap0"), tap("tap1")],
  },
  {
    name: "a tap as master is not supported",
    batches: [
      [
        { op: "addTap", name: "tap0" },
        { op: "addTap", name: "tap1" },
        { op: "setMaster", name: "tap0", master: "tap1" },
      ],
    ],
    error: { opIndex: 2, reason: "notSupported" },
    links: [tap("tap0"), tap("tap1")],
  },
  {
    name: "learning off on a link that is no bridge port",
    batches: [
      [
        { op: "addTap", name: "tap0" },
        { op: "setLearningOff", name: "tap0" },
      ],
    ],
    error: { opIndex: 1, reason: "notSupported" },
    links: [tap("tap0")],
  },
  {
    name: "tap MTU above its maximum 65521",
    batches: [
      [
        { op: "addTap", name: "tap0" },
        { op: "setMtu", name: "tap0", mtu: 65535 },
      ],
    ],
    error: { opIndex: 1, reason: "invalid" },
    links: [tap("tap0")],
  },
  {
    name: "deleting a bridge releases its ports",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addTap", name: "tap0" },
        { op: "setMaster", name: "tap0", master: "br0" },
      ],
      [{ op: "deleteLink", name: "br0" }],
    ],
    links: [tap("tap0")],
  },
  {
    name: "macvtap on a lower link goes away with it",
    batches: [
      [
        { op: "addBridge", name: "lower0" },
        { op: "addMacvtap", name: "mvt0", link: "lower0" },
      ],
    ],
    links: [
      bridge("lower0"),
      { name: "mvt0", kind: "macvtap", mtu: 1500, master: undefined, up: false, operstate: "DOWN" },
    ],
  },
  {
    name: "deleting the lower link deletes its macvtap",
    batches: [
      [
        { op: "addBridge", name: "lower0" },
        { op: "addMacvtap", name: "mvt0", link: "lower0" },
        { op: "deleteLink", name: "lower0" },
      ],
    ],
    links: [],
  },
  {
    name: "macvtap on a missing lower link",
    batches: [[{ op: "addMacvtap", name: "mvt0", link: "nope" }]],
    error: { opIndex: 0, reason: "notFound" },
    links: [],
  },
  {
    name: "addresses, connected and gateway routes",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
        { op: "addAddress", name: "br0", address: "169.254.75.10/32" },
        { op: "addAddress", name: "br0", address: "fd10:0:2::1/120", noDad: true },
        { op: "setUp", name: "br0" },
        { op: "addRoute", name: "br0", dst: "10.8.0.0/16", via: "10.0.2.254" },
      ],
    ],
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.2.1/24", "br0 169.254.75.10/32", "br0 fd10:0:2::1/120"],
    routes4: ["10.0.2.0/24 dev br0 proto kernel", "10.8.0.0/16 via 10.0.2.254 dev br0"],
  },
  {
    name: "a gateway outside every connected prefix",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
        { op: "setUp", name: "br0" },
        { op: "addRoute", name: "br0", dst: "default", via: "10.9.9.9" },
      ],
    ],
    error: { opIndex: 3, reason: "invalid" },
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.2.1/24"],
    routes4: ["10.0.2.0/24 dev br0 proto kernel"],
  },
  {
    name: "duplicate address",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
        { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
      ],
    ],
    error: { opIndex: 2, reason: "exists" },
    links: [bridge("br0")],
    addresses: ["br0 10.0.2.1/24"],
    routes4: [],
  },
  {
    name: "flush removes every address",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
        { op: "addAddress", name: "br0", address: "fd10:0:2::1/120", noDad: true },
        { op: "flushAddresses", name: "br0" },
      ],
    ],
    links: [bridge("br0")],
    addresses: [],
  },
  {
    name: "taking a link down drops every route through it and its IPv6 addresses, not its IPv4 ones",
    batches: [[...addressed, ...routed], [{ op: "setDown", name: "br0" }]],
    links: [bridge("br0")],
    addresses: ["br0 10.0.2.1/24"],
    routes4: [],
    routes6: [],
  },
  {
    name: "bringing it up again brings back only the IPv4 prefix route",
    batches: [[...addressed, ...routed], [{ op: "setDown", name: "br0" }], [{ op: "setUp", name: "br0" }]],
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.2.1/24"],
    routes4: ["10.0.2.0/24 dev br0 proto kernel"],
    routes6: [],
  },
  {
    name: "deleting one of two IPv4 addresses drops its prefix route only, even gateway routes through it stay",
    batches: [
      [
        ...addressed,
        { op: "addAddress", name: "br0", address: "10.0.3.1/24" },
        { op: "addRoute", name: "br0", dst: "10.8.0.0/16", via: "10.0.2.254" },
        { op: "addRoute", name: "br0", dst: "10.9.0.0/16", via: "10.0.3.254", protocol: "static", metric: 50 },
        { op: "deleteAddress", name: "br0", address: "10.0.2.1/24" },
      ],
    ],
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.3.1/24", "br0 fd10:0:2::1/64"],
    routes4: [
      "10.0.3.0/24 dev br0 proto kernel",
      "10.8.0.0/16 via 10.0.2.254 dev br0",
      "10.9.0.0/16 via 10.0.3.254 dev br0 proto static metric 50",
    ],
  },
  {
    name: "deleting the last IPv4 address drops every IPv4 route through the link",
    batches: [
      [
        ...addressed,
        ...routed,
        { op: "addRoute", name: "br0", dst: "10.7.0.0/16", protocol: "static", metric: 5 },
        { op: "deleteAddress", name: "br0", address: "10.0.2.1/24" },
      ],
    ],
    links: [bridge("br0", { up: true })],
    addresses: ["br0 fd10:0:2::1/64"],
    routes4: [],
    routes6: ["default dev br0 proto static metric 100", "fd10:0:2::/64 dev br0 proto kernel metric 256", v6gw],
  },
  {
    name: "IPv6 routes stay when the link's IPv6 addresses go, only the prefix route goes",
    batches: [[...addressed, ...routed, { op: "deleteAddress", name: "br0", address: "fd10:0:2::1/64" }]],
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.2.1/24"],
    routes4: ["10.0.2.0/24 dev br0 proto kernel", "10.8.0.0/16 via 10.0.2.254 dev br0"],
    routes6: ["default dev br0 proto static metric 100", v6gw],
  },
  {
    name: "flushing addresses drops the IPv4 routes through the link, not the IPv6 ones",
    batches: [[...addressed, ...routed, { op: "flushAddresses", name: "br0" }]],
    links: [bridge("br0", { up: true })],
    addresses: [],
    routes4: [],
    routes6: ["default dev br0 proto static metric 100", v6gw],
  },
  {
    name: "deleting an address needs its prefix length too",
    batches: [[...addressed, { op: "deleteAddress", name: "br0", address: "10.0.2.1/16" }]],
    error: { opIndex: 4, reason: "notFound" },
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.2.1/24", "br0 fd10:0:2::1/64"],
  },
  {
    name: "deleting a missing IPv6 address",
    batches: [[...addressed, { op: "deleteAddress", name: "br0", address: "fd10:0:2::9/64" }]],
    error: { opIndex: 4, reason: "notFound" },
    links: [bridge("br0", { up: true })],
    addresses: ["br0 10.0.2.1/24", "br0 fd10:0:2::1/64"],
  },
  {
    name: "an IPv4 route is keyed by destination and metric",
    batches: [
      [
        ...addressed,
        { op: "addRoute", name: "br0", dst: "10.0.2.0/24", metric: 10 },
        { op: "addRoute", name: "br0", dst: "10.0.2.0/24", via: "10.0.2.5", metric: 10 },
      ],
    ],
    error: { opIndex: 5, reason: "exists" },
    links: [bridge("br0", { up: true })],
    routes4: ["10.0.2.0/24 dev br0 metric 10", "10.0.2.0/24 dev br0 proto kernel"],
  },
  {
    name: "an IPv4 route with the prefix route's destination and metric",
    batches: [[...addressed, { op: "addRoute", name: "br0", dst: "10.0.2.0/24" }]],
    error: { opIndex: 4, reason: "exists" },
    links: [bridge("br0", { up: true })],
    routes4: ["10.0.2.0/24 dev br0 proto kernel"],
  },
  {
    name: "an IPv6 route is keyed by destination and metric, the prefix route's being 256",
    batches: [
      [
        ...addressed,
        { op: "addRoute", name: "br0", dst: "fd10:0:2::/64" },
        { op: "addRoute", name: "br0", dst: "fd10:0:2::/64", metric: 256 },
      ],
    ],
    error: { opIndex: 5, reason: "exists" },
    links: [bridge("br0", { up: true })],
    routes6: ["fd10:0:2::/64 dev br0 metric 1024", "fd10:0:2::/64 dev br0 proto kernel metric 256"],
  },
  {
    name: "a gateway on-link through a /32 route (Calico's default via 169.254.1.1)",
    batches: [
      [
        ...addressed,
        { op: "addRoute", name: "br0", dst: "169.254.1.1" },
        { op: "addRoute", name: "br0", dst: "default", via: "169.254.1.1" },
        { op: "addRoute", name: "br0", dst: "10.9.0.0/16", via: "169.254.1.2" },
      ],
    ],
    error: { opIndex: 6, reason: "invalid" },
    links: [bridge("br0", { up: true })],
    routes4: ["10.0.2.0/24 dev br0 proto kernel", "169.254.1.1 dev br0", "default via 169.254.1.1 dev br0"],
  },
  {
    name: "an IPv6 default route without a gateway through a down link",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addRoute", name: "br0", dst: "default", family: 6 },
      ],
    ],
    error: { opIndex: 1, reason: "invalid" },
    links: [bridge("br0")],
    routes6: [],
  },
  {
    name: "an IPv4 route through a down link",
    batches: [
      [
        { op: "addBridge", name: "br0" },
        { op: "addRoute", name: "br0", dst: "10.1.0.0/16" },
      ],
    ],
    error: { opIndex: 1, reason: "invalid" },
    links: [bridge("br0")],
    routes4: [],
  },
];

/** Runs a case and returns how many batch calls it made. */
async function runCase(nl: Netlink, c: ContractCase): Promise<number> {
  let failure: unknown;
  let calls = 0;
  for (const b of c.batches) {
    calls++;
    try {
      await nl.batch(b);
    } catch (e) {
      failure = e;
      break;
    }
  }
  if (c.error === undefined) {
    assert.equal(failure, undefined);
  } else {
    assert.ok(failure instanceof NetlinkBatchError, `expected NetlinkBatchError, got ${String(failure)}`);
    assert.deepEqual({ opIndex: failure.opIndex, reason: failure.reason }, c.error);
  }
  assert.deepEqual(view(await nl.links(), new Set(c.macs ?? [])), c.links);
  const snap = await nl.snapshot();
  assert.deepEqual(snap, {
    links: await nl.links(),
    addresses: await nl.addresses(),
    routes: { 4: await nl.routes(4), 6: await nl.routes(6) },
  });
  if (c.addresses !== undefined) {
    const got = (await nl.addresses())
      .filter((a) => a.scope === "global")
      .map((a) => `${a.ifname} ${a.local}/${a.prefixlen}`)
      .sort();
    assert.deepEqual(got, c.addresses);
  }
  if (c.routes4 !== undefined) {
    assert.deepEqual((await nl.routes(4)).map(route).sort(), c.routes4);
  }
  if (c.routes6 !== undefined) {
    const got = (await nl.routes(6)).filter((r) => !r.dst.startsWith("fe80::")).map(route);
    assert.deepEqual(got.sort(), c.routes6);
  }
  return calls;
}

describe("Netlink contract: FakeNetlink", () => {
  for (const c of contract) {
    it(c.name, async () => {
      const nl = new FakeNetlink();
      const calls = await runCase(nl, c);
      assert.equal(nl.batches.length, calls);
    });
  }
});

describe("Netlink contract: IprouteNetlink in a fresh namespace", { skip: kernelSkipReason() }, () => {
  for (const c of contract) {
    it(c.name, async () => {
      await withNetns(1, async ([ns = ""]) => {
        const rec = new RecordingExecutor();
        const nl = new IprouteNetlink(ns, { executor: rec });
        const calls = await runCase(nl, c);
        const batchRuns = rec.calls.filter((call) => call.args.includes("-batch") && !call.args.includes("-json"));
        assert.equal(batchRuns.length, calls);
        assert.ok(batchRuns.every((call) => call.program === "ip" && call.args.join(" ") === `-n ${ns} -batch -`));
      });
    });
  }

  it("spawns exactly one process per batch call", async () => {
    await withNetns(1, async ([ns = ""]) => {
      const rec = new RecordingExecutor();
      const nl = new IprouteNetlink(ns, { executor: rec });
      const ops: NetlinkOp[] = Array.from({ length: 20 }, (_, i) => ({ op: "addTap", name: `tap${i}` }));
      await nl.batch(ops);
      assert.equal(rec.calls.length, 1);
      assert.equal((await nl.links()).filter((l) => l.kind === "tun").length, 20);
    });
  });

  it("snapshot is one process and sees a gatewayless IPv6 default, not other tables", async () => {
    await withNetns(1, async ([ns = ""]) => {
      const nl = new IprouteNetlink(ns);
      await nl.batch([
        { op: "addBridge", name: "br0" },
        { op: "addAddress", name: "br0", address: "10.0.2.1/24" },
        { op: "setUp", name: "br0" },
        { op: "addRoute", name: "br0", dst: "default", family: 6 },
      ]);
      await hostExecutor.run("ip", ["-n", ns, "route", "add", "10.7.0.0/16", "dev", "br0", "table", "100"]);
      const rec = new RecordingExecutor();
      const snap = await new IprouteNetlink(ns, { executor: rec }).snapshot();
      assert.equal(rec.calls.length, 1);
      assert.deepEqual(
        snap.routes[6].filter((r) => r.dst === "default"),
        [{ dst: "default", dev: "br0", metric: 1024 }],
      );
      assert.deepEqual(snap.routes, { 4: await nl.routes(4), 6: await nl.routes(6) });
    });
  });

  it("rejects an invalid name without spawning anything", async () => {
    const rec = new RecordingExecutor();
    const nl = new IprouteNetlink("vmnt-unused", { executor: rec });
    await assert.rejects(nl.batch([{ op: "addBridge", name: "abcdefghijklmnop" }]), RangeError);
    assert.equal(rec.calls.length, 0);
  });
});

describe("FakeNetlink seeding", () => {
  it("models a pod as CNI leaves it: eth0 with an address and a default route", async () => {
    const nl = new FakeNetlink({
      links: [
        { name: "eth0", kind: "veth", mac: "0a:58:0a:f4:00:05", mtu: 1450, up: true, addresses: ["10.244.0.5/24"] },
      ],
      routes: [{ dst: "default", via: "10.244.0.1", dev: "eth0" }],
    });
    const eth0 = (await nl.links()).find((l) => l.name === "eth0");
    assert.deepEqual(
      { mac: eth0?.mac, mtu: eth0?.mtu, operstate: eth0?.operstate },
      { mac: "0a:58:0a:f4:00:05", mtu: 1450, operstate: "UP" },
    );
    assert.deepEqual(await nl.routes(4), [
      { dst: "default", gateway: "10.244.0.1", dev: "eth0" },
      { dst: "10.244.0.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "10.244.0.5" },
    ]);
  });
  it("accepts a link-local IPv6 gateway", async () => {
    const nl = new FakeNetlink({ links: [{ name: "eth0", kind: "veth", up: true }] });
    await nl.batch([{ op: "addRoute", name: "eth0", dst: "default", via: "fe80::1" }]);
    assert.deepEqual(await nl.routes(6), [{ dst: "default", gateway: "fe80::1", dev: "eth0", metric: 1024 }]);
  });
  it("a veth whose peer is down is LOWERLAYERDOWN", async () => {
    const nl = new FakeNetlink({ links: [{ name: "eth0", kind: "veth", up: true, carrier: false }] });
    assert.equal((await nl.links()).find((l) => l.name === "eth0")?.operstate, "LOWERLAYERDOWN");
  });
});
