/**
 * libvirt domain XML for a plan's guest NICs, as KubeVirt's converter and launcher phase 2 produce it (reference
 * §7.2–§7.5): tap-attached `type="ethernet"` interfaces, SR-IOV `<hostdev>`s and passt vhost-user interfaces, inside a
 * minimal `<domain type="kvm">` for renderers and validation. Children follow the field order of KubeVirt's
 * `api.Interface` struct, so the XML reads like a KubeVirt launcher's.
 */
import type { NicModel } from "../api/model.ts";
import type { InterfacePlan, NetworkPlan } from "../plan/plan.ts";
import { passthroughByKind } from "../plan/plan.ts";
import { sriovHostdevInputs } from "../plan/sriov.ts";
import { hex, libvirtNicModel, PciAddress } from "./nic-models.ts";

/** Istio's reserved ports that passt must not forward (reference Appendix A). */
export const ISTIO_RESERVED_PORTS = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090] as const;

/** passt's log file under KubeVirt. */
export const PASST_LOG_FILE = "/var/run/kubevirt/passt.log";

/** Architectures whose ROM rule differs (reference §7.3). */
export const Arch = { Amd64: "amd64", Arm64: "arm64", S390x: "s390x" } as const;
export type Arch = (typeof Arch)[keyof typeof Arch];

/** Options shared by the interface renderers. */
export interface InterfaceXmlOptions {
  /** Default amd64. */
  readonly arch?: Arch;
  /** SEV or s390x PV: `<driver iommu="on">` and no option ROM. */
  readonly launchSecurity?: boolean;
}

/** An XML element: name, attributes in order, children. */
export interface XmlElement {
  readonly name: string;
  readonly attrs?: readonly (readonly [string, string | number])[];
  readonly children?: readonly XmlElement[];
  readonly text?: string;
}

function escapeXml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** Serialises `e` with two-space indentation; empty elements self-close. */
export function renderXml(e: XmlElement, indent = ""): string {
  const attrs = (e.attrs ?? []).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join("");
  const children = e.children ?? [];
  if (e.text !== undefined) return `${indent}<${e.name}${attrs}>${escapeXml(e.text)}</${e.name}>`;
  if (children.length === 0) return `${indent}<${e.name}${attrs}/>`;
  const inner = children.map((c) => renderXml(c, `${indent}  `)).join("\n");
  return `${indent}<${e.name}${attrs}>\n${inner}\n${indent}</${e.name}>`;
}

const el = (name: string, attrs: XmlElement["attrs"] = [], children: readonly XmlElement[] = []): XmlElement => ({
  name,
  attrs,
  children,
});

/**
 * `<address type="pci" domain="0x0000" bus="0x00" slot="0x02" function="0x0"/>` of a `DDDD:BB:SS.F` address; without
 * `type` for a hostdev `<source>`, where libvirt's schema has no such attribute (KubeVirt emits it and libvirt's parser
 * ignores it, but the domain would not validate).
 */
export function pciAddressElement(text: string, options: { readonly typed?: boolean } = {}): XmlElement {
  const a = PciAddress.parse(text);
  return el("address", [
    ...(options.typed === false ? [] : [["type", "pci"] as const]),
    ["domain", `0x${hex(a.domain, 4)}`],
    ["bus", `0x${hex(a.bus, 2)}`],
    ["slot", `0x${hex(a.slot, 2)}`],
    ["function", `0x${a.fn.toString(16)}`],
  ]);
}

function driverElement(model: NicModel, queues: number | undefined, launchSecurity: boolean): XmlElement[] {
  if (model !== "virtio") return [];
  const q = queues !== undefined && queues > 0;
  if (!q && !launchSecurity) return [];
  return [
    el("driver", [
      ["name", "vhost"],
      ...(q ? [["queues", queues] as const] : []),
      ...(launchSecurity ? [["iommu", "on"] as const] : []),
    ]),
  ];
}

/** The `<interface type="ethernet">` of a tap-attached interface (bridge, masquerade; reference §7.2–§7.3). */
export function tapInterfaceElement(iface: InterfacePlan, options: InterfaceXmlOptions = {}): XmlElement {
  const g = iface.guest;
  const arch = options.arch ?? Arch.Amd64;
  const ls = options.launchSecurity === true;
  const model = arch === Arch.S390x ? "virtio" : g.domainModel;
  const noRom = arch !== Arch.S390x && (g.bootOrder === undefined || ls);
  return el(
    "interface",
    [["type", "ethernet"]],
    [
      ...(g.pciAddress === undefined ? [] : [pciAddressElement(g.pciAddress)]),
      el("source"),
      el("target", [
        ["dev", g.tapName.value],
        ["managed", "no"],
      ]),
      el("model", [["type", model]]),
      el("mac", [["address", g.mac]]),
      ...(g.mtu === undefined ? [] : [el("mtu", [["size", g.mtu]])]),
      ...(g.bootOrder === undefined ? [] : [el("boot", [["order", g.bootOrder]])]),
      ...(g.linkState === "down" ? [el("link", [["state", "down"]])] : []),
      el("alias", [["name", g.alias]]),
      ...driverElement(g.model, g.queues, ls),
      ...(noRom ? [el("rom", [["enabled", "no"]])] : []),
      ...(g.acpiIndex !== undefined && g.acpiIndex > 0 ? [el("acpi", [["index", g.acpiIndex]])] : []),
    ],
  );
}

/** An SR-IOV VF to pass through (reference §7.4). */
export interface SriovHostdevInput {
  /** Interface name; the alias is `ua-sriov-<name>`. */
  readonly name: string;
  /** The host VF, `deviceInfo.pci.pci-address` from `kubevirt.io/network-info`. */
  readonly hostPciAddress: string;
  /** Guest address (`pciAddress`). */
  readonly pciAddress?: string;
  readonly bootOrder?: number;
}

/** The `<hostdev type="pci" managed="no">` of an SR-IOV interface: no MAC, MTU or link state (reference §7.4). */
export function sriovHostdevElement(input: SriovHostdevInput): XmlElement {
  return el(
    "hostdev",
    [
      ["mode", "subsystem"],
      ["type", "pci"],
      ["managed", "no"],
    ],
    [
      el("source", [], [pciAddressElement(input.hostPciAddress, { typed: false })]),
      ...(input.bootOrder === undefined ? [] : [el("boot", [["order", input.bootOrder]])]),
      el("alias", [["name", `ua-sriov-${input.name}`]]),
      ...(input.pciAddress === undefined ? [] : [pciAddressElement(input.pciAddress)]),
    ],
  );
}

/** A passtBinding interface (reference §7.5). */
export interface PasstInterfaceInput {
  readonly name: string;
  /** `status.interfaces[].podInterfaceName`. */
  readonly podInterfaceName: string;
  readonly model?: NicModel;
  readonly transitional?: boolean;
  readonly mac?: string;
  readonly pciAddress?: string;
  readonly acpiIndex?: number;
  readonly ports: readonly { readonly protocol?: string; readonly port: number }[];
  /** Istio sidecar injected: its reserved ports are excluded from TCP forwarding. */
  readonly istio?: boolean;
}

/** The `<portForward>` elements: everything when no port is listed, else one element per protocol (reference §7.5). */
export function passtPortForwards(input: Pick<PasstInterfaceInput, "ports" | "istio">): XmlElement[] {
  const tcp: XmlElement[] = input.istio
    ? ISTIO_RESERVED_PORTS.map((p) =>
        el("range", [
          ["start", p],
          ["exclude", "yes"],
        ]),
      )
    : [];
  const udp: XmlElement[] = [];
  for (const p of input.ports) {
    const proto = (p.protocol ?? "").toLowerCase();
    if (proto === "udp") udp.push(el("range", [["start", p.port]]));
    else if (proto === "" || proto === "tcp") tcp.push(el("range", [["start", p.port]]));
  }
  const out: XmlElement[] = [];
  if (tcp.length > 0) out.push(el("portForward", [["proto", "tcp"]], tcp));
  if (udp.length > 0) out.push(el("portForward", [["proto", "udp"]], udp));
  return out.length > 0 ? out : [el("portForward", [["proto", "tcp"]]), el("portForward", [["proto", "udp"]])];
}

/** The `<interface type="vhostuser">` with a passt backend; no `<boot>`, `<rom>` or `<link>` (reference §7.5). */
export function passtInterfaceElement(input: PasstInterfaceInput): XmlElement {
  if (input.podInterfaceName === "")
    throw new TypeError(`Cannot render passt interface "${input.name}": no pod interface name`);
  return el(
    "interface",
    [["type", "vhostuser"]],
    [
      ...(input.pciAddress === undefined ? [] : [pciAddressElement(input.pciAddress)]),
      el("source", [["dev", input.podInterfaceName]]),
      el("model", [["type", libvirtNicModel(input.model ?? "virtio", { transitional: input.transitional === true })]]),
      ...(input.mac === undefined ? [] : [el("mac", [["address", input.mac]])]),
      el("alias", [["name", `ua-${input.name}`]]),
      ...(input.acpiIndex !== undefined && input.acpiIndex > 0 ? [el("acpi", [["index", input.acpiIndex]])] : []),
      el("backend", [
        ["type", "passt"],
        ["logFile", PASST_LOG_FILE],
      ]),
      ...passtPortForwards(input),
    ],
  );
}

/** Options of {@link domainXml}. */
export interface DomainXmlOptions extends InterfaceXmlOptions {
  readonly name: string;
  /** Default 128. */
  readonly memoryMiB?: number;
  /** Default 1. */
  readonly vcpus?: number;
  /** Default `q35`. */
  readonly machine?: string;
  /** SR-IOV hostdevs; default: those of the plan's SR-IOV passthrough devices that have a VF. */
  readonly sriov?: readonly SriovHostdevInput[];
  readonly passt?: readonly PasstInterfaceInput[];
  /** Whether memfd memory backing is supported; passt then adds `<source type="memfd"/>`. Default true. */
  readonly memfd?: boolean;
}

const ARCH_NAMES: Readonly<Record<Arch, string>> = { amd64: "x86_64", arm64: "aarch64", s390x: "s390x" };

/**
 * A minimal full `<domain type="kvm">` holding the plan's interfaces, then passt interfaces, then SR-IOV hostdevs.
 * passt adds the shared memory backing vhost-user needs.
 */
export function domainXml(plan: NetworkPlan, options: DomainXmlOptions): string {
  const arch = options.arch ?? Arch.Amd64;
  const passt = options.passt ?? [];
  const domain = el(
    "domain",
    [["type", "kvm"]],
    [
      { name: "name", text: options.name },
      { name: "memory", attrs: [["unit", "MiB"]], text: String(options.memoryMiB ?? 128) },
      { name: "vcpu", text: String(options.vcpus ?? 1) },
      ...(passt.length > 0
        ? [
            el(
              "memoryBacking",
              [],
              [
                el("access", [["mode", "shared"]]),
                ...(options.memfd === false ? [] : [el("source", [["type", "memfd"]])]),
              ],
            ),
          ]
        : []),
      el(
        "os",
        [],
        [
          {
            name: "type",
            attrs: [
              ["arch", ARCH_NAMES[arch]],
              ...(arch === Arch.Amd64 ? [["machine", options.machine ?? "q35"] as const] : []),
            ],
            text: "hvm",
          },
        ],
      ),
      el(
        "devices",
        [],
        [
          ...plan.interfaces.map((i) => tapInterfaceElement(i, options)),
          ...passt.map(passtInterfaceElement),
          ...(options.sriov ?? sriovHostdevInputs(passthroughByKind(plan).sriov)).map(sriovHostdevElement),
        ],
      ),
    ],
  );
  return `${renderXml(domain)}\n`;
}

/** One interface's XML, lowercased completely as KubeVirt does before `UpdateDeviceFlags`/`AttachDeviceFlags` (§8.1). */
export function interfaceUpdateXml(iface: InterfacePlan, options: InterfaceXmlOptions = {}): string {
  return renderXml(tapInterfaceElement(iface, options)).toLowerCase();
}
