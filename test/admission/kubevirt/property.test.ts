import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  admitKubeVirt,
  validateKubeVirtCreation,
  validateKubeVirtVmiSpec,
} from "../../../src/admission/kubevirt/index.ts";
import type { ClusterConfig } from "../../../src/api/cluster-config.ts";
import type { KvInterface, KvNetwork, KvVmiSpec } from "../../../src/api/kubevirt-types.ts";
import { parsePath } from "../../../src/api/source.ts";
import { cfg } from "./helpers.ts";

/** Names drawn from a small pool so that duplicates and cross-references happen often, plus odd ones. */
const name = fc.oneof(fc.constantFrom("default", "red", "blue", "", "a.b", "__proto__", "constructor"), fc.string());
const num = fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.constantFrom(0, 1, 224, 254, 65535, 65536, -1));
const str = fc.oneof(fc.string(), fc.constantFrom("TCP", "UDP", "tcp", "", "02:00:00:00:00:00", "0000:81:01.7"));
const empty = fc.constant({});
const partial = <T extends object>(model: { [K in keyof T]-?: fc.Arbitrary<NonNullable<T[K]>> }) =>
  fc.record(model, { requiredKeys: [] });

const iface: fc.Arbitrary<KvInterface> = partial<KvInterface>({
  name,
  model: fc.oneof(str, fc.constantFrom("virtio", "e1000", "igb")),
  bridge: empty,
  masquerade: empty,
  sriov: empty,
  passtBinding: empty,
  slirp: empty,
  macvtap: empty,
  passt: empty,
  binding: partial({ name: fc.string() }),
  ports: fc.array(partial({ name: str, protocol: str, port: num }), { maxLength: 4 }),
  portRanges: fc.array(partial({ protocol: str, start: num, end: num }), { maxLength: 12 }),
  macAddress: fc.oneof(str, fc.constantFrom("de:ad:00:00:be:af", "de:ad:00:00:be:af:be:af", "0000.5e00.5301")),
  bootOrder: num,
  pciAddress: str,
  dhcpOptions: partial({
    bootFileName: fc.string(),
    tftpServerName: fc.string(),
    ntpServers: fc.array(fc.oneof(fc.string(), fc.constantFrom("10.0.0.1", "::ffff:1.2.3.4", "fd00::1")), {
      maxLength: 3,
    }),
    privateOptions: fc.array(partial({ option: num, value: fc.string() }), { maxLength: 3 }),
  }),
  tag: fc.string(),
  acpiIndex: num,
  state: fc.oneof(str, fc.constantFrom("up", "down", "absent")),
});

const network: fc.Arbitrary<KvNetwork> = partial<KvNetwork>({
  name,
  pod: partial({ vmNetworkCIDR: fc.string(), vmIPv6NetworkCIDR: fc.string() }),
  multus: partial({ networkName: str, default: fc.boolean() }),
  resourceClaim: partial({ claimName: str, requestName: str }),
});

const probe = partial({ httpGet: empty, tcpSocket: empty, exec: empty });

const vmiSpec: fc.Arbitrary<KvVmiSpec> = partial<KvVmiSpec>({
  domain: partial({
    devices: partial({
      interfaces: fc.array(iface, { maxLength: 6 }),
      autoattachPodInterface: fc.boolean(),
      disks: fc.array(partial({ name: fc.string(), bootOrder: num }), { maxLength: 3 }),
    }),
    launchSecurity: partial({ sev: empty, snp: empty, tdx: empty }),
  }),
  networks: fc.array(network, { maxLength: 6 }),
  hostname: fc.oneof(fc.string(), fc.constantFrom("vm", "VM", "a.b")),
  subdomain: fc.string(),
  dnsPolicy: fc.oneof(fc.string(), fc.constantFrom("None", "ClusterFirst")),
  dnsConfig: partial({
    nameservers: fc.array(fc.oneof(fc.string(), fc.constant("1.1.1.1")), { maxLength: 5 }),
    searches: fc.array(fc.string(), { maxLength: 8 }),
    options: fc.array(partial({ name: fc.string(), value: fc.string() }), { maxLength: 2 }),
  }),
  readinessProbe: probe,
  livenessProbe: probe,
  resourceClaims: fc.array(partial({ name: str }), { maxLength: 2 }),
  architecture: fc.constantFrom("amd64", "s390x", ""),
});

const config: fc.Arbitrary<ClusterConfig> = fc
  .record({
    defaultNetworkInterface: fc.constantFrom("bridge", "masquerade", "slirp", "", "weird"),
    permitBridgeInterfaceOnPodNetwork: fc.boolean(),
    permitSlirpInterface: fc.boolean(),
    featureGates: fc.subarray(["Passt", "Macvtap", "PortRangesSpec", "NetworkDevicesWithDRA", "Passt"]),
    disabledFeatureGates: fc.subarray(["PasstBinding"]),
  })
  .map((o) => cfg(o));

/** Causes KubeVirt reports with bare field names (its copy of the Kubernetes dnsConfig check). */
const BARE_FIELDS = new Set(["nameservers", "searchDomains", "options"]);

function startsWithRoot(field: string, root: string): boolean {
  const segs = parsePath(field);
  const rootSegs = parsePath(root);
  return rootSegs.every((s, i) => segs[i] === s);
}

describe("KubeVirt admission properties", () => {
  it("validateKubeVirtVmiSpec never throws and every field starts with the root (or is a documented bare name)", () => {
    fc.assert(
      fc.property(vmiSpec, config, fc.constantFrom("spec", "spec.template.spec"), (s, c, root) => {
        for (const cause of validateKubeVirtVmiSpec(s, root, c)) {
          assert.ok(
            startsWithRoot(cause.field, root) || BARE_FIELDS.has(cause.field),
            `field ${JSON.stringify(cause.field)} outside root ${root}: ${cause.message}`,
          );
          assert.ok(cause.message.length > 0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("validateKubeVirtCreation never throws; fields are under the root or empty (discontinued gates)", () => {
    fc.assert(
      fc.property(vmiSpec, config, (s, c) => {
        for (const cause of validateKubeVirtCreation(s, "spec", c)) {
          assert.ok(cause.field === "" || startsWithRoot(cause.field, "spec"));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("admitKubeVirt never throws and never mutates its input", () => {
    fc.assert(
      fc.property(vmiSpec, config, fc.boolean(), (s, c, asVm) => {
        const before = JSON.stringify(s);
        const r = asVm
          ? admitKubeVirt({ apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", spec: { template: { spec: s } } }, c)
          : admitKubeVirt({ apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance", spec: s }, c);
        assert.equal(JSON.stringify(s), before);
        assert.equal(r.allowed, r.message === undefined);
        assert.ok(r.causes.length <= 10);
      }),
      { numRuns: 200 },
    );
  });

  it("copes with a huge interface list", () => {
    const n = 5000;
    const s: KvVmiSpec = {
      domain: {
        devices: { interfaces: Array.from({ length: n }, (_, i) => ({ name: `n${i % 7}`, bootOrder: i % 3 })) },
      },
      networks: Array.from({ length: n }, (_, i) => ({ name: `n${i % 5}`, pod: {} })),
    };
    const causes = validateKubeVirtVmiSpec(s, "spec", cfg());
    assert.ok(causes.length > n);
  });

  it("stays linear on a huge DRA network list", () => {
    const n = 20000;
    const s: KvVmiSpec = {
      domain: { devices: { interfaces: Array.from({ length: n }, (_, i) => ({ name: `n${i}`, bridge: {} })) } },
      networks: Array.from({ length: n }, (_, i) => ({
        name: `n${i}`,
        resourceClaim: { claimName: "c", requestName: "r" },
      })),
    };
    const started = performance.now();
    const causes = validateKubeVirtVmiSpec(s, "spec", cfg({ featureGates: ["NetworkDevicesWithDRA"] }));
    // A quadratic lookup would take minutes here; linear takes well under a second.
    assert.ok(performance.now() - started < 10000);
    assert.equal(causes.filter((x) => x.message.startsWith("duplicate claimName/requestName")).length, n - 1);
  });
});
