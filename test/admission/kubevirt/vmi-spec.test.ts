import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Cause } from "../../../src/admission/cause.ts";
import { CauseType } from "../../../src/admission/cause.ts";
import { validateKubeVirtVmiSpec } from "../../../src/admission/kubevirt/index.ts";
import type { KvVmiSpec } from "../../../src/api/kubevirt-types.ts";
import { c, cfg, podMasquerade, spec } from "./helpers.ts";

const { Invalid, Required, NotSupported } = CauseType;

const LABEL_FORMAT =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_FORMAT =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const withPod = (extra: KvVmiSpec): KvVmiSpec => ({ ...podMasquerade(), ...extra });
const bootIfaces = (orders: (number | undefined)[], extra: KvVmiSpec = {}): KvVmiSpec =>
  spec(
    orders.map((bootOrder, i) => ({ name: `n${i}`, bridge: {}, ...(bootOrder === undefined ? {} : { bootOrder }) })),
    orders.map((_, i) => (i === 0 ? { name: "n0", pod: {} } : { name: `n${i}`, multus: { networkName: "nad" } })),
    extra,
  );

interface Case {
  readonly name: string;
  readonly spec: KvVmiSpec;
  readonly root?: string;
  readonly want: Cause[];
}

describe("validateKubeVirtVmiSpec other network-adjacent rules (§3.11)", () => {
  const cases: Case[] = [
    { name: "boot orders 1 and 2 are valid", spec: bootIfaces([1, 2]), want: [] },
    {
      name: "bootOrder 0 uses the spec[i] quirk",
      spec: bootIfaces([undefined, 0]),
      want: [c(Invalid, "spec[1].bootOrder", "spec[1] must have a boot order > 0, if supplied")],
    },
    {
      name: "bootOrder 0 quirk on a VM root",
      root: "spec.template.spec",
      spec: bootIfaces([0]),
      want: [
        c(Invalid, "spec.template.spec[0].bootOrder", "spec.template.spec[0] must have a boot order > 0, if supplied"),
      ],
    },
    {
      name: "boot order taken by an earlier interface",
      spec: bootIfaces([1, 1]),
      want: [
        c(
          Invalid,
          "spec.domain.devices.interfaces[1].bootOrder",
          "Boot order for spec.domain.devices.interfaces[1].bootOrder already set for a different device.",
        ),
      ],
    },
    {
      name: "boot order taken by a disk",
      spec: bootIfaces([3], { domain: { devices: { disks: [{ name: "d", bootOrder: 3 }] } } }),
      want: [
        c(
          Invalid,
          "spec.domain.devices.interfaces[0].bootOrder",
          "Boot order for spec.domain.devices.interfaces[0].bootOrder already set for a different device.",
        ),
      ],
    },
    {
      name: "probes without a pod network: readiness then liveness, httpGet then tcpSocket",
      spec: spec([{ name: "red", bridge: {} }], [{ name: "red", multus: { networkName: "nad" } }], {
        livenessProbe: { httpGet: { port: 80 } },
        readinessProbe: { tcpSocket: { port: 80 }, httpGet: { port: 80 } },
      }),
      want: [
        c(
          Invalid,
          "spec.readinessProbe.httpGet",
          "spec.readinessProbe.httpGet is only allowed if the Pod Network is attached",
        ),
        c(
          Invalid,
          "spec.readinessProbe.tcpSocket",
          "spec.readinessProbe.tcpSocket is only allowed if the Pod Network is attached",
        ),
        c(
          Invalid,
          "spec.livenessProbe.httpGet",
          "spec.livenessProbe.httpGet is only allowed if the Pod Network is attached",
        ),
      ],
    },
    {
      name: "probes with a pod network are fine",
      spec: withPod({ readinessProbe: { httpGet: {} } }),
      want: [],
    },
    {
      name: "exec probe without a pod network is fine",
      spec: spec([{ name: "red", bridge: {} }], [{ name: "red", multus: { networkName: "nad" } }], {
        readinessProbe: { exec: {} },
      }),
      want: [],
    },
    {
      name: "SEV with a bootable NIC",
      spec: bootIfaces([1], { domain: { launchSecurity: { sev: {} } } }),
      want: [c(Invalid, "spec.launchSecurity", "SEV does not work with bootable NICs: n0")],
    },
    {
      name: "TDX with a bootable NIC",
      spec: bootIfaces([1], { domain: { launchSecurity: { tdx: {} } } }),
      want: [c(Invalid, "spec.launchSecurity", "TDX does not work with bootable NICs: n0")],
    },
    {
      name: "two launchSecurity types: the selection error is not a network cause",
      spec: bootIfaces([1], { domain: { launchSecurity: { sev: {}, snp: {} } } }),
      want: [],
    },
    {
      name: "launchSecurity without bootable NICs",
      spec: bootIfaces([undefined], { domain: { launchSecurity: { sev: {} } } }),
      want: [],
    },
    {
      name: "launchSecurity on another architecture is not checked here",
      spec: bootIfaces([1], { architecture: "s390x", domain: { launchSecurity: { sev: {} } } }),
      want: [],
    },
    { name: "valid hostname and subdomain", spec: withPod({ hostname: "vm-1", subdomain: "a.b" }), want: [] },
    {
      name: "hostname with dots",
      spec: withPod({ hostname: "vm.1" }),
      want: [
        c(
          Invalid,
          "spec.hostname",
          "spec.hostname does not conform to the kubernetes DNS_LABEL rules : must not contain dots",
        ),
      ],
    },
    {
      name: "hostname uppercase",
      spec: withPod({ hostname: "VM" }),
      want: [
        c(
          Invalid,
          "spec.hostname",
          `spec.hostname does not conform to the kubernetes DNS_LABEL rules : ${LABEL_FORMAT}`,
        ),
      ],
    },
    {
      name: "bad subdomain",
      spec: withPod({ subdomain: "a_b" }),
      want: [
        c(
          Invalid,
          "spec.subdomain",
          `spec.subdomain does not conform to the kubernetes DNS_SUBDOMAIN rules : ${SUBDOMAIN_FORMAT}`,
        ),
      ],
    },
    {
      name: "unknown dnsPolicy",
      spec: withPod({ dnsPolicy: "Foo" }),
      want: [
        c(
          NotSupported,
          "spec.dnsPolicy",
          "DNSPolicy: Foo is not supported, valid values: [ClusterFirstWithHostNet ClusterFirst Default None ]",
        ),
      ],
    },
    {
      name: "dnsPolicy None without dnsConfig",
      spec: withPod({ dnsPolicy: "None" }),
      want: [c(Required, "spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None")],
    },
    {
      name: "dnsPolicy None without nameservers (bare field)",
      spec: withPod({ dnsPolicy: "None", dnsConfig: { searches: ["x"] } }),
      want: [c(Required, "nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None")],
    },
    {
      name: "dnsConfig limits with bare field names",
      spec: withPod({
        dnsConfig: {
          nameservers: ["1.1.1.1", "8.8.8.8", "9.9.9.9", "nope"],
          searches: ["a", "b", "c", "d", "e", "f", "G"],
          options: [{ name: "" }, { name: "ndots", value: "2" }],
        },
      }),
      want: [
        c(Invalid, "nameservers", "must not have more than 3 nameservers: [1.1.1.1 8.8.8.8 9.9.9.9 nope]"),
        c(Invalid, "nameservers", "must be valid IP address: nope"),
        c(Invalid, "searchDomains", "must not have more than 6 search paths"),
        c(Invalid, "searchDomains", SUBDOMAIN_FORMAT),
        c(Invalid, "options", "Option.Name must not be empty"),
      ],
    },
    {
      name: "search list over 256 characters",
      spec: withPod({ dnsConfig: { searches: ["a".repeat(200), "b".repeat(57)] } }),
      want: [
        c(Invalid, "searchDomains", "must not have more than 256 characters (including spaces) in the search list"),
      ],
    },
    {
      name: "order: hostname, network Validate, boot order, probes, dnsPolicy, dnsConfig, launchSecurity",
      spec: spec([{ name: "a", bridge: {}, bootOrder: 0 }], [{ name: "a", multus: { networkName: "" } }], {
        hostname: "A",
        dnsPolicy: "None",
        readinessProbe: { tcpSocket: {} },
        domain: { launchSecurity: { snp: {} } },
      }),
      want: [
        c(
          Invalid,
          "spec.hostname",
          `spec.hostname does not conform to the kubernetes DNS_LABEL rules : ${LABEL_FORMAT}`,
        ),
        c(Required, "spec.networks[0]", "CNI delegating plugin must have a networkName"),
        c(Invalid, "spec[0].bootOrder", "spec[0] must have a boot order > 0, if supplied"),
        c(
          Invalid,
          "spec.readinessProbe.tcpSocket",
          "spec.readinessProbe.tcpSocket is only allowed if the Pod Network is attached",
        ),
        c(Required, "spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"),
        c(Invalid, "spec.launchSecurity", "SNP does not work with bootable NICs: a"),
      ],
    },
  ];
  for (const t of cases) {
    it(t.name, () => assert.deepEqual(validateKubeVirtVmiSpec(t.spec, t.root ?? "spec", cfg()), t.want));
  }
});
