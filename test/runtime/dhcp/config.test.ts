import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InterfaceName } from "../../../src/plan/namescheme.ts";
import type { Dhcpv4Plan, Dhcpv6Plan, RaPlan } from "../../../src/plan/plan.ts";
import { planPod } from "../../../src/plan/plan.ts";
import { podNetworkOf } from "../../../src/runtime/apply.ts";
import {
  dhcp4Binding,
  dhcp6Config,
  raConfig,
  type ServedInterface,
  servedInterfaces,
  validateServed,
} from "../../../src/runtime/dhcp/config.ts";
import { config, iface, link, pod, podNet, vm } from "../../plan/fixtures.ts";

const DUAL = ["10.244.1.5/24", "fd00:10:244:1::5/64", "fe80::858:aff:fef4:105/64"];
const MAC = "0a:58:0a:f4:01:05";
const SEARCH = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"];
const k6t = InterfaceName.of("k6t-eth0");

const v4Plan: Dhcpv4Plan = {
  serverInterface: k6t,
  serverIdentifier: "169.254.75.10",
  filterClientMac: true,
  client: {
    mac: "02:00:00:aa:bb:01",
    ip: "10.244.1.5",
    prefix: 24,
    subnetMask: "255.255.255.0",
    router: "10.244.1.1",
    routes: [{ destination: "0.0.0.0/0", gateway: "10.244.1.1" }],
    dnsServers: ["10.96.0.10"],
    searchDomains: ["cluster.local"],
    mtu: 1450,
    leaseSeconds: 4_294_967_295,
  },
  options: { ntpServers: ["10.0.0.5"], tftpServerName: "tftp", privateOptions: [{ option: 240, value: "x" }] },
};

const v6Plan: Dhcpv6Plan = {
  serverInterface: k6t,
  serverDuidMac: "02:00:00:00:00:00",
  clientAddress: "fd10:0:2::2",
  preferredLifetime: 100,
  validLifetime: 200,
  dnsServers: ["fd00::a"],
  searchDomains: ["cluster.local"],
};

const raPlan: RaPlan = {
  interface: k6t,
  sourceMac: "02:00:00:00:00:00",
  sourceAddress: "fe80::ff:fe00:0",
  managed: true,
  otherConfig: true,
  curHopLimit: 64,
  routerLifetime: 1800,
  minIntervalSeconds: 200,
  maxIntervalSeconds: 600,
  mtu: 1450,
  prefixes: [{ prefix: "fd10:0:2::/120", onLink: true, autonomous: false, validLifetime: 9, preferredLifetime: 8 }],
  rdnss: { servers: ["fd00::a"], lifetime: 1800 },
  dnssl: { domains: ["cluster.local"], lifetime: 1800 },
};

describe("servedInterfaces", () => {
  it("maps a dual-stack masquerade plan to DHCPv4, DHCPv6 and RA on k6t-eth0 with KubeVirt's values", () => {
    const plan = planPod(vm([iface("default", { kind: "masquerade" })], [podNet()]), {
      config: config(),
      pod: pod([link("eth0", 3, MAC, DUAL)]),
    });
    const served = servedInterfaces(plan.interfaces);
    assert.equal(served.length, 1);
    const [s] = served as [ServedInterface];
    assert.equal(s.ifname, "k6t-eth0");
    assert.deepEqual(s.dhcpv4, {
      interfaces: [
        {
          name: "k6t-eth0",
          serverIdentifier: "10.0.2.1",
          anyClient: true,
          clients: [
            {
              mac: MAC,
              ip: "10.0.2.2",
              prefixLength: 24,
              router: "10.0.2.1",
              routes: [],
              dns: ["10.96.0.10"],
              searchDomains: SEARCH,
              domainName: "default.svc.cluster.local",
              hostname: "testvm",
              mtu: 1450,
              leaseSeconds: 86_313_600,
              ntpServers: [],
              privateOptions: [],
            },
          ],
        },
      ],
    });
    assert.deepEqual(s.dhcpv6, {
      serverDuidMac: "02:00:00:00:00:00",
      address: "fd10:0:2::2",
      dns: ["fd00:10:96::a"],
      searchDomains: SEARCH,
      preferredLifetime: 86_313_600,
      validLifetime: 86_313_600,
      t1: 0,
      t2: 0,
    });
    assert.deepEqual(s.ra?.prefix, {
      prefix: "fd10:0:2::",
      length: 120,
      onLink: true,
      autonomous: false,
      validLifetime: 4_294_967_295,
      preferredLifetime: 4_294_967_295,
    });
    assert.equal(s.ra?.sourceLinkLocal, "fe80::ff:fe00:0");
    assert.equal(s.ra?.dnsLifetime, 1800);
    assert.deepEqual([s.ra?.rdnss, s.ra?.dnssl], [["fd00:10:96::a"], SEARCH]);
    validateServed(served);
  });

  it("maps a bridge plan to a MAC-filtered DHCPv4 server with the pod's routes and no IPv6 servers", () => {
    const plan = planPod(vm([iface("default", { kind: "bridge" })], [podNet()]), {
      config: config(),
      pod: pod([link("eth0", 3, MAC, DUAL)]),
    });
    const [s] = servedInterfaces(plan.interfaces) as [ServedInterface];
    const v4 = s.dhcpv4?.interfaces[0];
    assert.equal(v4?.anyClient, false);
    assert.equal(v4?.serverIdentifier, "169.254.75.10");
    assert.deepEqual(v4?.clients[0]?.routes, [
      { dst: "10.244.0.0/16", gateway: "10.244.1.1" },
      { dst: "0.0.0.0/0", gateway: "10.244.1.1" },
    ]);
    assert.equal(s.dhcpv6, undefined);
    assert.equal(s.ra, undefined);
  });

  it("takes the runtime's PodNetwork services as they are", () => {
    const plan = planPod(vm([iface("default", { kind: "masquerade" })], [podNet()]), {
      config: config(),
      pod: pod([link("eth0", 3, MAC, DUAL)]),
    });
    assert.deepEqual(servedInterfaces(podNetworkOf(plan, "vmnt-x").services), servedInterfaces(plan.interfaces));
  });

  it("gives each served bridge its own entry, and an interface without plans nothing", () => {
    const blue = InterfaceName.of("k6t-blue");
    const served = servedInterfaces([
      { dhcpv4: v4Plan },
      {},
      { dhcpv4: { ...v4Plan, serverInterface: blue, client: { ...v4Plan.client, mac: "02:00:00:aa:bb:02" } } },
    ]);
    assert.deepEqual(
      served.map((s) => [s.ifname, s.dhcpv4?.interfaces[0]?.clients[0]?.mac]),
      [
        ["k6t-eth0", "02:00:00:aa:bb:01"],
        ["k6t-blue", "02:00:00:aa:bb:02"],
      ],
    );
  });

  it("merges two DHCPv4 clients planned on one bridge", () => {
    const second = { ...v4Plan, client: { ...v4Plan.client, mac: "02:00:00:aa:bb:02", ip: "10.244.1.6" } };
    const [s] = servedInterfaces([{ dhcpv4: v4Plan }, { dhcpv4: second }]) as [ServedInterface];
    assert.deepEqual(
      s.dhcpv4?.interfaces[0]?.clients.map((c) => c.ip),
      ["10.244.1.5", "10.244.1.6"],
    );
  });

  const refused: { name: string; plans: Parameters<typeof servedInterfaces>[0]; error: RegExp }[] = [
    {
      name: "two DHCPv4 plans with different server identifiers on one bridge",
      plans: [{ dhcpv4: v4Plan }, { dhcpv4: { ...v4Plan, serverIdentifier: "169.254.75.11" } }],
      error: /disagree on "k6t-eth0"/,
    },
    {
      name: "two DHCPv4 plans with different MAC filtering on one bridge",
      plans: [{ dhcpv4: v4Plan }, { dhcpv4: { ...v4Plan, filterClientMac: false } }],
      error: /disagree on "k6t-eth0"/,
    },
    {
      name: "two DHCPv6 plans on one bridge",
      plans: [{ dhcpv6: v6Plan }, { dhcpv6: v6Plan }],
      error: /two DHCPv6 configurations on "k6t-eth0"/,
    },
    { name: "two RA plans on one bridge", plans: [{ ra: raPlan }, { ra: raPlan }], error: /two router advertisements/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      assert.throws(() => servedInterfaces(c.plans), { name: "RangeError", message: c.error });
    });
  }
});

describe("dhcp4Binding", () => {
  it("renames the plan's fields and carries the user options", () => {
    assert.deepEqual(dhcp4Binding(v4Plan), {
      mac: "02:00:00:aa:bb:01",
      ip: "10.244.1.5",
      prefixLength: 24,
      router: "10.244.1.1",
      routes: [{ dst: "0.0.0.0/0", gateway: "10.244.1.1" }],
      dns: ["10.96.0.10"],
      searchDomains: ["cluster.local"],
      mtu: 1450,
      leaseSeconds: 4_294_967_295,
      ntpServers: ["10.0.0.5"],
      tftpServerName: "tftp",
      privateOptions: [{ option: 240, value: "x" }],
    });
  });
  const masks: [number, string, boolean][] = [
    [24, "255.255.255.0", true],
    [0, "0.0.0.0", true],
    [32, "255.255.255.255", true],
    [23, "255.255.255.0", false],
  ];
  for (const [prefix, subnetMask, ok] of masks) {
    it(`${ok ? "accepts" : "refuses"} prefix ${prefix} with mask ${subnetMask}`, () => {
      const plan = { ...v4Plan, client: { ...v4Plan.client, prefix, subnetMask } };
      if (ok) assert.equal(dhcp4Binding(plan).prefixLength, prefix);
      else assert.throws(() => dhcp4Binding(plan), /Cannot serve subnet mask "255.255.255.0" with prefix length "23"/);
    });
  }
});

describe("dhcp6Config", () => {
  it("uses the plan's address, lifetimes and DNS with T1 = T2 = 0", () => {
    assert.deepEqual(dhcp6Config(v6Plan), {
      serverDuidMac: "02:00:00:00:00:00",
      address: "fd10:0:2::2",
      dns: ["fd00::a"],
      searchDomains: ["cluster.local"],
      preferredLifetime: 100,
      validLifetime: 200,
      t1: 0,
      t2: 0,
    });
  });
});

describe("raConfig", () => {
  it("splits the prefix text and takes one DNS lifetime", () => {
    const c = raConfig(raPlan);
    assert.deepEqual(c.prefix, {
      prefix: "fd10:0:2::",
      length: 120,
      onLink: true,
      autonomous: false,
      validLifetime: 9,
      preferredLifetime: 8,
    });
    assert.equal(c.dnsLifetime, 1800);
    assert.equal(c.minInterval, 200);
    assert.equal(c.maxInterval, 600);
  });
  it("advertises no prefix and no DNS when the plan has none", () => {
    const { rdnss: _r, dnssl: _d, ...bare } = raPlan;
    const c = raConfig({ ...bare, prefixes: [] });
    assert.equal(c.prefix, undefined);
    assert.deepEqual([c.rdnss, c.dnssl, c.dnsLifetime], [[], [], undefined]);
  });
  const bad: { name: string; plan: RaPlan; error: RegExp }[] = [
    {
      name: "two prefixes",
      plan: { ...raPlan, prefixes: [...raPlan.prefixes, ...raPlan.prefixes] },
      error: /Cannot advertise 2 prefixes on "k6t-eth0"/,
    },
    {
      name: "different RDNSS and DNSSL lifetimes",
      plan: { ...raPlan, dnssl: { domains: ["a"], lifetime: 5 } },
      error: /RDNSS lifetime "1800" and DNSSL lifetime "5"/,
    },
    {
      name: "a prefix without length",
      plan: { ...raPlan, prefixes: [{ ...(raPlan.prefixes[0] as RaPlan["prefixes"][0]), prefix: "fd10::" }] },
      error: /Cannot parse IPv6 prefix "fd10::"/,
    },
    {
      name: "a prefix length over 128",
      plan: { ...raPlan, prefixes: [{ ...(raPlan.prefixes[0] as RaPlan["prefixes"][0]), prefix: "fd10::/129" }] },
      error: /Cannot parse IPv6 prefix "fd10::\/129"/,
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => {
      assert.throws(() => raConfig(c.plan), c.error);
    });
  }
});

describe("validateServed", () => {
  const cases: { name: string; served: ServedInterface[]; error: RegExp }[] = [
    {
      name: "a bad search domain, naming the device",
      served: servedInterfaces([{ dhcpv4: { ...v4Plan, client: { ...v4Plan.client, searchDomains: ["bad..x"] } } }]),
      error: /^Cannot serve DHCP on "k6t-eth0": Search domain is not valid/,
    },
    {
      name: "a DHCPv6 lifetime pair the core refuses",
      served: servedInterfaces([{ dhcpv6: { ...v6Plan, preferredLifetime: 300 } }]),
      error: /^Cannot serve DHCP on "k6t-eth0": Cannot use preferredLifetime "300" above validLifetime "200"/,
    },
    {
      name: "an RA interval the core refuses",
      served: servedInterfaces([{ ra: { ...raPlan, minIntervalSeconds: 500 } }]),
      error: /^Cannot serve DHCP on "k6t-eth0": Cannot use minInterval "500"/,
    },
    {
      name: "one device twice",
      served: [{ ifname: "k6t-eth0" }, { ifname: "k6t-eth0" }],
      error: /Cannot serve interface "k6t-eth0" twice/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => validateServed(c.served), { message: c.error });
    });
  }
});
