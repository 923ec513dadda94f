/**
 * bench/up.ts in its smallest configuration (one measured `up` with nothing else running, one bare boot: about 15 s
 * under TCG), so its code cannot rot: it must finish, print its tables and verdict, and leave no namespace, process or
 * state directory behind. Timings are never asserted (the target belongs to the benchmark). Plus the pure parts the
 * numbers depend on: reading tcpdump's DHCP output (a real capture of one boot) and the command line.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { missingPrerequisite } from "../../bench/lib.ts";
import { dhcpTimes, parseDhcpDump, parseUpArgs, type UpBenchOptions } from "../../bench/up.ts";
import { listNetns } from "../../src/host/netns.ts";
import { runBench } from "./run.ts";

function skipReason(): string | undefined {
  const missing = missingPrerequisite(["ip", "nft", "qemu-system-x86_64", "tcpdump", "wget"]);
  if (missing !== undefined) return missing;
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

describe("bench/up.ts with one VM", { skip: skipReason(), timeout: 300_000 }, () => {
  it("boots, reaches and removes one VM, prints both tables and the verdict, and leaves nothing behind", async () => {
    const r = await runBench("bench/up.ts", ["--running", "0", "--iterations", "1"]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^running +vmnet +lab +image +wire +dhcpSt +dhcpAns +pod +qemu +boot +bare$/m);
    assert.match(r.stdout, /^1 +[0-9.]+ +[0-9.]+ /m);
    assert.match(r.stdout, /^median ms +1 running$/m);
    for (const row of ["vmnet part", "guest boot", "to lease", "to reachable", "bare QEMU boot \\(baseline\\)"]) {
      assert.match(r.stdout, new RegExp(`^${row} +[0-9.]+$`, "m"), row);
    }
    assert.match(r.stdout, /^target \(vmnet part <= 1000 ms\): 1 running [0-9.]+ ms (met|NOT met)$/m);
    const m = /^state directory: (\S+) \(lab node (vmnt-[0-9a-f]+)\)$/m.exec(r.stdout);
    assert.ok(m?.[1] !== undefined && m[2] !== undefined, "the run names its state directory and node");
    const [, dir, node] = m;
    assert.equal(existsSync(dir), false, `${dir} is removed`);
    assert.deepEqual(
      (await listNetns()).filter((n) => n.startsWith(node)),
      [],
    );
    const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    assert.equal(ps.includes(dir), false, "no process of the run is left");
  });
});

/** One guest's DHCPv4 exchange as `tcpdump -i any -n -v -tt` printed it in the pod (option lines trimmed). */
const CAPTURE = `1795408158.503845 tap0  B   IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 328)
    0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request from c2:4d:f5:8b:00:fb, length 300, xid 0x192fd86f, Flags [none]
	  Client-Ethernet-Address c2:4d:f5:8b:00:fb
	  Vendor-rfc1048 Extensions
	    Magic Cookie 0x63825363
	    DHCP-Message (53), length 1: Discover
	    MSZ (57), length 2: 576
1795408158.503880 k6t-eth0 B   IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 328)
    0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request from c2:4d:f5:8b:00:fb, length 300, xid 0x192fd86f, Flags [none]
	    DHCP-Message (53), length 1: Discover
1795408158.511011 k6t-eth0 Out IP (tos 0x0, ttl 64, id 19737, offset 0, flags [DF], proto UDP (17), length 402)
    10.0.2.1.67 > 255.255.255.255.68: BOOTP/DHCP, Reply, length 374, xid 0x192fd86f, Flags [none]
	  Your-IP 10.0.2.2
	    DHCP-Message (53), length 1: Offer
	    Server-ID (54), length 4: 10.0.2.1
1795408158.511018 tap0  Out IP (tos 0x0, ttl 64, id 19737, offset 0, flags [DF], proto UDP (17), length 402)
    10.0.2.1.67 > 255.255.255.255.68: BOOTP/DHCP, Reply, length 374, xid 0x192fd86f, Flags [none]
	    DHCP-Message (53), length 1: Offer
1795408158.543278 tap0  B   IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 330)
    0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request from c2:4d:f5:8b:00:fb, length 302, xid 0x192fd86f, Flags [none]
	    DHCP-Message (53), length 1: Request
	    Requested-IP (50), length 4: 10.0.2.2
1795408158.543295 k6t-eth0 B   IP (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 330)
    0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request from c2:4d:f5:8b:00:fb, length 302, xid 0x192fd86f, Flags [none]
	    DHCP-Message (53), length 1: Request
1795408158.544678 k6t-eth0 Out IP (tos 0x0, ttl 64, id 19745, offset 0, flags [DF], proto UDP (17), length 402)
    10.0.2.1.67 > 255.255.255.255.68: BOOTP/DHCP, Reply, length 374, xid 0x192fd86f, Flags [none]
	    DHCP-Message (53), length 1: ACK
	    Lease-Time (51), length 4: 86313600
1795408158.544683 tap0  Out IP (tos 0x0, ttl 64, id 19745, offset 0, flags [DF], proto UDP (17), length 402)
    10.0.2.1.67 > 255.255.255.255.68: BOOTP/DHCP, Reply, length 374, xid 0x192fd86f, Flags [none]
	    DHCP-Message (53), length 1: ACK
`;

/** Epoch ms relative to the capture's second, so the expected values are readable. */
const BASE = (ms: number) => ms - 1795408158000;

describe("parseDhcpDump and dhcpTimes", () => {
  it("reads every message with its packet's time, once per interface it crossed", () => {
    const messages = parseDhcpDump(CAPTURE, BASE);
    assert.deepEqual(
      messages.map((m) => m.type),
      ["Discover", "Discover", "Offer", "Offer", "Request", "Request", "ACK", "ACK"],
    );
    assert.ok(Math.abs((messages[0]?.at ?? 0) - 503.845) < 1e-3);
    assert.ok(Math.abs((messages[7]?.at ?? 0) - 544.683) < 1e-3);
  });

  const cases: { name: string; messages: { type: string; at: number }[]; serve: number; exchange: number }[] = [
    {
      name: "the capture: answers from the bridge's copy of each request, exchange from the first DISCOVER",
      messages: parseDhcpDump(CAPTURE, BASE),
      serve: 511.011 - 503.88 + (544.678 - 543.295),
      exchange: 544.678 - 503.845,
    },
    {
      name: "a DISCOVER retried: the answer time counts from the last one before the OFFER",
      messages: [
        { type: "Discover", at: 0 },
        { type: "Discover", at: 3000 },
        { type: "Offer", at: 3002 },
        { type: "Request", at: 3010 },
        { type: "ACK", at: 3011 },
      ],
      serve: 3,
      exchange: 3011,
    },
    {
      name: "no ACK: nothing to report",
      messages: [
        { type: "Discover", at: 0 },
        { type: "Offer", at: 2 },
        { type: "Request", at: 10 },
      ],
      serve: Number.NaN,
      exchange: Number.NaN,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const t = dhcpTimes(c.messages);
      for (const [got, want] of [
        [t.serve, c.serve],
        [t.exchange, c.exchange],
      ] as const) {
        if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `${got} is NaN`);
        else assert.ok(Math.abs(got - want) < 1e-3, `${got} is ${want}`);
      }
    });
  }
});

describe("parseUpArgs", () => {
  const cases: [string[], Omit<UpBenchOptions, "out">][] = [
    [[], { running: 20, iterations: 3, batch: 4, accel: "auto" }],
    [
      ["--running", "0", "--iterations", "1", "--batch", "2", "--accel", "tcg"],
      { running: 0, iterations: 1, batch: 2, accel: "tcg" },
    ],
  ];
  for (const [argv, want] of cases) {
    it(`reads ${JSON.stringify(argv)}`, () => {
      assert.deepEqual(parseUpArgs(argv), want);
    });
  }

  const refused: [string[], RegExp][] = [
    [["--iterations", "0"], /Invalid value "0" for "--iterations"/],
    [["--running=-1"], /Invalid value "-1" for "--running"/],
    [["--accel", "hvf"], /Invalid value "hvf" for "--accel"/],
  ];
  for (const [argv, message] of refused) {
    it(`refuses ${JSON.stringify(argv)}`, () => {
      assert.throws(() => parseUpArgs(argv), message);
    });
  }
});
