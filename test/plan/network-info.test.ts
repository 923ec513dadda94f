import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CLUSTER_CONFIG } from "../../src/api/cluster-config.ts";
import { PlanErrorCode } from "../../src/plan/errors.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import {
  deviceInfoOf,
  NETWORK_INFO_ANNOTATION,
  networkInfoOf,
  parseNetworkInfo,
  parseNetworkStatus,
  renderNetworkInfo,
  SriovPciPool,
  sriovPciAddresses,
} from "../../src/plan/network-info.ts";
import type { DeviceStatusEntry } from "../../src/plan/passthrough-types.ts";
import { iface, multusNet, podNet, vm } from "./fixtures.ts";

const sriov = { kind: "sriov" } as const;
const hashed = (n: string) => hashedPodInterfaceName(n).value;
const pciInfo = (address: string) => ({
  type: "pci",
  version: "1.1.0",
  pci: { "pci-address": address, "pf-pci-address": "0000:3b:00.0" },
});

const model = vm(
  [
    iface("default", { kind: "masquerade" }),
    iface("sriov-b", sriov),
    iface("blue", { kind: "bridge" }),
    iface("sriov-a", sriov, { macAddress: "02:00:00:00:00:0a" }),
  ],
  [podNet(), multusNet("sriov-b", "nad-b"), multusNet("blue", "nad-blue"), multusNet("sriov-a", "nad-a")],
);

const status: DeviceStatusEntry[] = [
  { name: "k8s-pod-network", interface: "eth0", default: true, mac: "0a:58:0a:f4:01:05" },
  {
    name: "default/nad-b",
    interface: hashed("sriov-b"),
    mac: "de:ad:00:00:be:ef",
    mtu: 9000,
    "device-info": pciInfo("0000:3b:10.2"),
  },
  { name: "default/nad-blue", interface: hashed("blue"), mac: "3a:11:22:33:44:55" },
  {
    name: "default/nad-a",
    interface: hashed("sriov-a"),
    mac: "02:00:00:00:00:0a",
    "device-info": pciInfo("0000:3b:10.0"),
  },
];

describe("networkInfoOf", () => {
  it("has one entry per SR-IOV network in network-status, sorted by network name, bridge left out", () => {
    assert.deepEqual(networkInfoOf(model, status), {
      interfaces: [
        { network: "sriov-a", deviceInfo: pciInfo("0000:3b:10.0"), mac: "02:00:00:00:00:0a" },
        { network: "sriov-b", deviceInfo: pciInfo("0000:3b:10.2"), mac: "de:ad:00:00:be:ef", mtu: 9000 },
      ],
    });
  });

  it("follows the ordinal scheme when network-status uses net<N> names", () => {
    const ordinal: DeviceStatusEntry[] = [
      { name: "k8s-pod-network", interface: "eth0", default: true },
      { name: "default/nad-b", interface: "net1", "device-info": pciInfo("0000:3b:10.2") },
      { name: "default/nad-blue", interface: "net2" },
      { name: "default/nad-a", interface: "net3", "device-info": pciInfo("0000:3b:10.0") },
    ];
    assert.deepEqual(
      networkInfoOf(model, ordinal)?.interfaces.map((i) => [i.network, i.deviceInfo?.pci?.["pci-address"]]),
      [
        ["sriov-a", "0000:3b:10.0"],
        ["sriov-b", "0000:3b:10.2"],
      ],
    );
  });

  it("leaves out networks not plugged yet and returns undefined when none is", () => {
    assert.deepEqual(
      networkInfoOf(model, status.slice(0, 2))?.interfaces.map((i) => i.network),
      ["sriov-b"],
    );
    assert.equal(networkInfoOf(model, status.slice(0, 1)), undefined);
  });

  it("keeps a plugged SR-IOV network without device-info, with its MAC only", () => {
    const noInfo = status.map((s) =>
      s.interface === hashed("sriov-b") ? { name: s.name, interface: s.interface } : s,
    );
    assert.deepEqual(networkInfoOf(model, noInfo)?.interfaces[1], { network: "sriov-b" });
  });

  it("skips absent interfaces", () => {
    const m = {
      ...model,
      interfaces: model.interfaces.map((i) => (i.name === "sriov-a" ? { ...i, state: "absent" as const } : i)),
    };
    assert.deepEqual(
      networkInfoOf(m, status)?.interfaces.map((i) => i.network),
      ["sriov-b"],
    );
  });

  it("adds plugin interfaces only when their plugin asks for device-info", () => {
    const m = vm(
      [
        iface("default", { kind: "masquerade" }),
        iface("dpu", { kind: "plugin", name: "dev" }),
        iface("tp", { kind: "plugin", name: "tap" }),
      ],
      [podNet(), multusNet("dpu", "nad-dpu"), multusNet("tp", "nad-tp")],
    );
    const st: DeviceStatusEntry[] = [
      {
        name: "default/nad-dpu",
        interface: hashed("dpu"),
        "device-info": { type: "vdpa", version: "1.1.0", vdpa: { path: "/dev/vhost-vdpa-1" } },
      },
      { name: "default/nad-tp", interface: hashed("tp"), "device-info": pciInfo("0000:3b:10.4") },
    ];
    const config = { ...DEFAULT_CLUSTER_CONFIG, bindingPlugins: { dev: { downwardAPI: "device-info" }, tap: {} } };
    assert.deepEqual(networkInfoOf(m, st, { config }), {
      interfaces: [
        { network: "dpu", deviceInfo: { type: "vdpa", version: "1.1.0", vdpa: { path: "/dev/vhost-vdpa-1" } } },
      ],
    });
    assert.equal(networkInfoOf(m, st), undefined);
  });
});

describe("deviceInfoOf", () => {
  const table = [
    { name: "not an object", raw: "pci", want: undefined },
    { name: "null", raw: null, want: undefined },
    {
      name: "keys in Go struct order, unknown keys and empty strings dropped",
      raw: {
        pci: { "rdma-device": "", "pci-address": "0000:3b:10.0", extra: 1 },
        version: "1.1.0",
        type: "pci",
        foo: {},
      },
      want: { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:10.0" } },
    },
    {
      name: "an empty sub-object stays (a non-nil pointer in Go)",
      raw: { type: "pci", pci: {} },
      want: { type: "pci", pci: {} },
    },
    {
      name: "vdpa, vhost-user and memif",
      raw: {
        memif: { mode: "ethernet", role: "master", path: "/run/memif.sock" },
        "vhost-user": { path: "/run/vhu.sock", mode: "server" },
        vdpa: { path: "/dev/vhost-vdpa-0", driver: "vhost", "parent-device": "vdpa0" },
      },
      want: {
        vdpa: { "parent-device": "vdpa0", driver: "vhost", path: "/dev/vhost-vdpa-0" },
        "vhost-user": { mode: "server", path: "/run/vhu.sock" },
        memif: { role: "master", path: "/run/memif.sock", mode: "ethernet" },
      },
    },
  ];
  for (const c of table) {
    it(`deviceInfoOf: ${c.name}`, () => {
      const got = deviceInfoOf(c.raw);
      assert.deepEqual(got, c.want);
      assert.equal(JSON.stringify(got), JSON.stringify(c.want));
    });
  }
});

describe("renderNetworkInfo", () => {
  it("writes compact JSON in KubeVirt's key order", () => {
    const info = networkInfoOf(model, status);
    assert.ok(info);
    assert.equal(
      renderNetworkInfo(info),
      '{"interfaces":[{"network":"sriov-a","deviceInfo":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:10.0","pf-pci-address":"0000:3b:00.0"}},"mac":"02:00:00:00:00:0a"},' +
        '{"network":"sriov-b","deviceInfo":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:10.2","pf-pci-address":"0000:3b:00.0"}},"mac":"de:ad:00:00:be:ef","mtu":9000}]}',
    );
  });

  it("escapes <, > and & as Go does, and writes {} for no interfaces", () => {
    assert.equal(
      renderNetworkInfo({ interfaces: [{ network: "a<b>&c" }] }),
      '{"interfaces":[{"network":"a\\u003cb\\u003e\\u0026c"}]}',
    );
    assert.equal(renderNetworkInfo({ interfaces: [] }), "{}");
  });

  it("round-trips through parseNetworkInfo", () => {
    const info = networkInfoOf(model, status);
    assert.ok(info);
    assert.deepEqual(parseNetworkInfo(renderNetworkInfo(info)), info);
    assert.equal(NETWORK_INFO_ANNOTATION, "kubevirt.io/network-info");
  });
});

describe("parseNetworkInfo", () => {
  it("rejects invalid JSON with KubeVirt's pool error", () => {
    assert.throws(
      () => parseNetworkInfo("{"),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, PlanErrorCode.NetworkInfoInvalid);
        assert.match(
          e.message,
          /^failed to create PCI address pool with network status from file: failed to unmarshal network-info annotation: /u,
        );
        return true;
      },
    );
  });

  it("reads {} as no interfaces", () => {
    assert.deepEqual(parseNetworkInfo("{}"), { interfaces: [] });
  });
});

describe("parseNetworkStatus", () => {
  it("keeps the keys planning reads", () => {
    const text = JSON.stringify([
      {
        name: "default/nad-a",
        interface: "net1",
        ips: ["10.1.1.2"],
        mac: "02:00:00:00:00:0a",
        mtu: 1500,
        dns: {},
        "device-info": pciInfo("0000:3b:10.0"),
      },
    ]);
    assert.deepEqual(parseNetworkStatus(text), [
      {
        name: "default/nad-a",
        interface: "net1",
        mac: "02:00:00:00:00:0a",
        mtu: 1500,
        "device-info": pciInfo("0000:3b:10.0"),
      },
    ]);
  });

  const bad = [
    { name: "not an array", text: "{}" },
    { name: "an entry without name", text: '[{"interface":"net1"}]' },
    { name: "not JSON", text: "[" },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => parseNetworkStatus(c.text), SyntaxError);
    });
  }
});

describe("sriovPciAddresses and SriovPciPool", () => {
  const info = networkInfoOf(model, status);

  it("maps every SR-IOV network to its VF", () => {
    assert.deepEqual(
      [...sriovPciAddresses(info, ["sriov-a", "sriov-b"])],
      [
        ["sriov-a", "0000:3b:10.0"],
        ["sriov-b", "0000:3b:10.2"],
      ],
    );
  });

  const errors = [
    {
      name: "an empty mapping",
      info: { interfaces: [{ network: "sriov-a" }] },
      networks: ["sriov-a"],
      code: PlanErrorCode.NoSriovMapping,
      message: "found no SR-IOV networks to PCI-Address mapping",
    },
    {
      name: "no annotation at all",
      info: undefined,
      networks: ["sriov-a"],
      code: PlanErrorCode.NoSriovMapping,
      message: "found no SR-IOV networks to PCI-Address mapping",
    },
    {
      name: "a network without an address",
      info,
      networks: ["sriov-c"],
      code: PlanErrorCode.SriovPciAddressNotFound,
      message: 'PCI-Address for SR-IOV network "sriov-c" not found',
    },
    {
      name: "the same network twice (each address is handed out once)",
      info,
      networks: ["sriov-a", "sriov-a"],
      code: PlanErrorCode.SriovPciAddressNotFound,
      message: 'PCI-Address for SR-IOV network "sriov-a" not found',
    },
  ];
  for (const c of errors) {
    it(`fails on ${c.name}`, () => {
      assert.throws(
        () => sriovPciAddresses(c.info, c.networks),
        (e: Error & { code?: string; retryable?: boolean }) => {
          assert.equal(e.name, "PlanError");
          assert.equal(e.code, c.code);
          assert.equal(e.message, c.message);
          assert.equal(e.retryable, true);
          return true;
        },
      );
    });
  }

  it("returns an empty map when no network is asked for", () => {
    assert.equal(sriovPciAddresses(undefined, []).size, 0);
  });

  it("SriovPciPool ignores entries with an empty pci-address", () => {
    const pool = SriovPciPool.of({ interfaces: [{ network: "x", deviceInfo: { pci: { "pci-address": "" } } }] });
    assert.equal(pool.size, 0);
  });
});
