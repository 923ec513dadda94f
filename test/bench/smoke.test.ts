/**
 * The benchmarks in a tiny configuration, so their code cannot rot: each must finish, print its table and leave no
 * namespace behind. Timings are never asserted (targets belong to the benchmarks themselves). Plus the pure helpers
 * the numbers depend on: perfdhcp report parsing, quantiles, and the per-rule baseline's rule expansion.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BENCH_DHCP_PLAN, bestRate, keaConfig, networkOf, type PerfReport, parsePerfdhcp } from "../../bench/dhcp.ts";
import { missingPrerequisite, quantile } from "../../bench/lib.ts";
import { expandSetRefs, perRuleNftCommands } from "../../bench/setup.ts";
import type { NftRuleset } from "../../src/plan/nft.ts";
import { leftNamespaces, runBench } from "./run.ts";

describe("bench/setup.ts in a tiny configuration", { skip: missingPrerequisite(["ip", "nft"]) }, () => {
  it("runSetupBench completes one iteration of every case and prints its table", async () => {
    const r = await runBench("bench/setup.ts", ["--iterations", "1", "--ports", "1,3", "--dual-ports", "2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^case +vmnet med +vmnet p90 +disc\+plan +floor med +per-rule med +vmnet\/floor/m);
    for (const name of ["bridge-ipv4", "masq-ipv4-all", "masq-ipv4-1", "masq-ipv4-3", "masq-dual-2"]) {
      assert.match(r.stdout, new RegExp(`^${name} +[0-9.]+ `, "m"), `row ${name}`);
    }
    assert.match(r.stdout, /^target \(vmnet <= 1\.3x floor\): /m);
    assert.deepEqual(await leftNamespaces(r.stdout), []);
  });
});

describe("bench/dhcp.ts in a tiny configuration", {
  skip: missingPrerequisite(["ip", "perfdhcp", "kea-dhcp4", "stdbuf"]),
}, () => {
  it("runDhcpBench drives both servers with perfdhcp and prints both tables", async () => {
    const args = ["--seconds", "1", "--rates", "50", "--latency-rate", "20", "--repeats", "1"];
    const r = await runBench("bench/dhcp.ts", args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^server +asked\/s +exch\/s +drops +DO avg +DO p99/m);
    assert.match(r.stdout, /^vmnet +50 +[0-9.]+ /m);
    assert.match(r.stdout, /^kea-dhcp4 +50 +[0-9.]+ /m);
    assert.match(r.stdout, /^paced: 20 exchanges\/s/m);
    assert.match(r.stdout, /^best rate: vmnet [0-9.]+\/s .* target \(vmnet >= kea\): (met|NOT met)$/m);
    // Both servers answered: an exchange count of 0 would print a rate of 0.0.
    assert.doesNotMatch(r.stdout, /^(vmnet|kea-dhcp4) +50 +0\.0 /m);
    assert.deepEqual(await leftNamespaces(r.stdout), []);
  });
});

const PERFDHCP_REPORT = `Running: perfdhcp -4 -l eth0 -r 2000 -R 1 -b mac=0a:58:0a:f4:01:05 -p 3 -x t
Scenario: basic.
***Rate statistics***
Rate: 1998.44 4-way exchanges/second, expected rate: 2000

***Malformed Packets***
Malformed packets: 0
***Statistics for: DISCOVER-OFFER***
sent packets: 5999
received packets: 5999
drops: 0
drops ratio: 0 %
orphans: 0
rejected leases: 0
non unique addresses: 0

min delay: 0.080 ms
avg delay: 3.035 ms
max delay: 32.035 ms
std deviation: 5.675 ms
collected packets: 0

***Statistics for: REQUEST-ACK***
sent packets: 5999
received packets: 5998
drops: 1
drops ratio: 0.017 %
orphans: 2
rejected leases: 0
non unique addresses: 0

min delay: 0.067 ms
avg delay: 2.482 ms
max delay: 30.374 ms
std deviation: 4.942 ms
collected packets: 0

***Timestamps for packets: DISCOVER-OFFER***
sent / received: 000000.000171 / 000000.001958
sent / received: 000000.001840 / 000000.002273
***Timestamps for packets: REQUEST-ACK***
sent / received: 000000.002000 / 000000.002500
`;

describe("parsePerfdhcp", () => {
  it("parsePerfdhcp reads the rate, both exchanges' counters and delays, and per-packet delays", () => {
    const r = parsePerfdhcp(PERFDHCP_REPORT);
    assert.equal(r.rate, 1998.44);
    assert.equal(r.discoverOffer.sent, 5999);
    assert.equal(r.discoverOffer.drops, 0);
    assert.equal(r.discoverOffer.avgMs, 3.035);
    assert.equal(r.requestAck.received, 5998);
    assert.equal(r.requestAck.drops, 1);
    assert.equal(r.requestAck.orphans, 2);
    assert.equal(r.requestAck.maxMs, 30.374);
    assert.equal(r.requestAck.stdMs, 4.942);
    assert.deepEqual(
      r.discoverOffer.delaysMs.map((d) => Math.round(d * 1000)),
      [1787, 433],
    );
    assert.deepEqual(
      r.requestAck.delaysMs.map((d) => Math.round(d * 1000)),
      [500],
    );
  });

  it("parsePerfdhcp gives NaN delays for an exchange nothing answered", () => {
    const none = PERFDHCP_REPORT.replace(
      /received packets: 5998[\s\S]*?collected packets: 0/,
      "received packets: 0\ndrops: 5999\norphans: 0\n\nmin delay: inf ms\navg delay: min delay: n/a\navg delay: n/a\nmax delay: n/a\nstd deviation: n/a\ncollected packets: 0",
    );
    const r = parsePerfdhcp(none);
    assert.equal(r.requestAck.received, 0);
    assert.equal(r.requestAck.drops, 5999);
    assert.ok(Number.isNaN(r.requestAck.minMs) && Number.isNaN(r.requestAck.avgMs) && Number.isNaN(r.requestAck.maxMs));
    assert.equal(r.discoverOffer.avgMs, 3.035);
  });

  it("parsePerfdhcp rejects output without a report", () => {
    assert.throws(() => parsePerfdhcp("Error: no such interface"), SyntaxError);
  });
});

describe("bestRate", () => {
  const report = (rate: number): PerfReport => ({ ...parsePerfdhcp(PERFDHCP_REPORT), rate });
  it("bestRate picks the requested rate with the highest median completed rate", () => {
    const sweep = new Map([
      [1000, [report(990), report(1000), report(995)]],
      [2000, [report(1500), report(1700), report(1600)]],
      [4000, [report(1200), report(1300), report(1250)]],
    ]);
    assert.deepEqual(bestRate(sweep), { requested: 2000, rate: 1600 });
  });
});

describe("keaConfig", () => {
  it("keaConfig reserves the plan's address for its MAC and always sends every option vmnet sends", () => {
    const c = keaConfig(BENCH_DHCP_PLAN, 0) as {
      Dhcp4: { subnet4: { subnet: string; reservations: unknown[]; "option-data": { "always-send": boolean }[] }[] };
    };
    const subnet = c.Dhcp4.subnet4[0];
    assert.equal(subnet?.subnet, "10.0.2.0/24");
    assert.deepEqual(subnet?.reservations, [
      { "hw-address": "0a:58:0a:f4:01:05", "ip-address": "10.0.2.2", hostname: "benchvm" },
    ]);
    assert.equal(subnet?.["option-data"].length, 5);
    assert.ok(subnet?.["option-data"].every((o) => o["always-send"]));
  });
});

describe("networkOf", () => {
  const cases = [
    { ip: "10.0.2.2", prefix: 24, want: "10.0.2.0/24" },
    { ip: "10.0.2.2", prefix: 30, want: "10.0.2.0/30" },
    { ip: "192.168.77.200", prefix: 20, want: "192.168.64.0/20" },
    { ip: "255.255.255.255", prefix: 32, want: "255.255.255.255/32" },
    { ip: "10.1.2.3", prefix: 0, want: "0.0.0.0/0" },
  ];
  for (const c of cases) {
    it(`networkOf ${c.ip}/${c.prefix} is ${c.want}`, () => {
      assert.equal(networkOf(c.ip, c.prefix), c.want);
    });
  }
});

describe("quantile", () => {
  const cases: { q: number; values: number[]; want: number }[] = [
    { q: 0.5, values: [3, 1, 2], want: 2 },
    { q: 0.5, values: [4, 1, 2, 3], want: 2.5 },
    { q: 0.9, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], want: 10 },
    { q: 0.99, values: [5], want: 5 },
  ];
  for (const c of cases) {
    it(`quantile ${c.q} of [${c.values.join(", ")}] is ${c.want}`, () => {
      assert.equal(quantile(c.values, c.q), c.want);
    });
  }
  it("quantile of nothing is NaN", () => {
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });
  it("quantile ignores NaN values", () => {
    assert.equal(quantile([Number.NaN, 1, 3], 0.5), 2);
    assert.ok(Number.isNaN(quantile([Number.NaN], 0.5)));
  });
});

describe("perRuleNftCommands", () => {
  const ruleset: NftRuleset = {
    tables: [
      {
        family: "ip",
        name: "nat",
        sets: [
          { name: "kubevirt_tcp_ports", type: "inet_service", interval: true, elements: [80, { range: [90, 92] }] },
        ],
        chains: [
          {
            name: "prerouting",
            hook: { type: "nat", hook: "prerouting", priority: -100, policy: "accept" },
            rules: [
              {
                matches: [{ op: "==", left: { meta: "iifname" }, right: "eth0" }],
                counter: true,
                verdict: { kind: "jump", target: "KUBEVIRT_PREINBOUND" },
              },
            ],
          },
          {
            name: "KUBEVIRT_PREINBOUND",
            rules: [
              {
                matches: [
                  {
                    op: "==",
                    left: { payload: { protocol: "tcp", field: "dport" } },
                    right: { setRef: "kubevirt_tcp_ports" },
                  },
                ],
                counter: true,
                verdict: { kind: "dnat", addr: "10.0.2.2" },
              },
            ],
          },
        ],
      },
    ],
  };

  it("perRuleNftCommands writes one command per table, chain and rule, one rule per set element", () => {
    assert.deepEqual(perRuleNftCommands(ruleset), [
      "add table ip nat",
      "add chain ip nat prerouting { type nat hook prerouting priority -100; policy accept; }",
      "add chain ip nat KUBEVIRT_PREINBOUND",
      'add rule ip nat prerouting iifname "eth0" counter jump KUBEVIRT_PREINBOUND',
      "add rule ip nat KUBEVIRT_PREINBOUND tcp dport 80 counter dnat to 10.0.2.2",
      "add rule ip nat KUBEVIRT_PREINBOUND tcp dport 90-92 counter dnat to 10.0.2.2",
    ]);
  });

  it("expandSetRefs refuses a reference to a set the table lacks", () => {
    const table = ruleset.tables[0];
    assert.ok(table !== undefined);
    const rule = table.chains[1]?.rules[0];
    assert.ok(rule !== undefined);
    assert.throws(() => expandSetRefs(rule, { ...table, sets: [] }), RangeError);
  });
});
