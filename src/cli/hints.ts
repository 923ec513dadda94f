/**
 * "What to do" hints for the text output: one entry per kind of cause, matched on the message (and, for a few, the
 * field). The first entry that matches wins, so specific patterns come before general ones.
 */

/** One hint: a cause whose message matches `message` (and whose field matches `field`, if given). */
export interface Hint {
  readonly message: RegExp;
  readonly field?: RegExp;
  readonly hint: string;
}

/** The hint table. */
export const HINTS: readonly Hint[] = [
  // KubeVirt admission (reference §3).
  {
    message: /^Masquerade interface only implemented with pod network/,
    hint: "use bridge for multus networks, or attach the interface to a pod network",
  },
  {
    message: /^Masquerade is only allowed to connect to the pod network/,
    hint: "use bridge for multus networks, or attach the interface to a pod network",
  },
  {
    message: /reserved for the in-pod bridge/,
    hint: "pick another MAC address; 02:00:00:00:00:00 belongs to masquerade's in-pod bridge",
  },
  {
    message: /^Bridge on pod network configuration is not enabled/,
    hint: "use masquerade on the pod network, or set permitBridgeInterfaceOnPodNetwork: true in the KubeVirt CR",
  },
  {
    message: /^bridge interface is not enabled in kubevirt-config/,
    hint: "list the interfaces yourself (e.g. masquerade on the pod network), or set defaultNetworkInterface: masquerade in the KubeVirt CR",
  },
  {
    message: /^slirp interface is deprecated/,
    hint: "set defaultNetworkInterface to bridge or masquerade in the KubeVirt CR, or list the interfaces yourself",
  },
  {
    message: /^PasstBinding feature gate is not enabled/,
    hint: "remove PasstBinding from disabledFeatureGates in the KubeVirt CR, or use masquerade",
  },
  {
    message: /^PasstBinding interface only implemented with pod network/,
    hint: "use passtBinding only on the pod network; use bridge for multus networks",
  },
  {
    message: /^Slirp interface support has been discontinued/,
    hint: "use masquerade (or passtBinding) on the pod network; vmnet runs core slirp only when the KubeVirt CR sets permitSlirpInterface: true",
  },
  {
    message: /^Passt network binding has been discontinued|^Passt network binding is discontinued/,
    hint: "use passtBinding: {} (gate PasstBinding) or the passt binding plugin instead of passt: {}",
  },
  {
    message: /^Macvtap network binding has been discontinued|^Macvtap network binding is discontinued/,
    hint: "register the macvtap binding plugin in the KubeVirt CR and use binding: {name: macvtap} instead of macvtap: {}",
  },
  {
    message: /must have exactly one binding method or binding plugin/,
    hint: "give the interface exactly one of bridge, masquerade, sriov, passtBinding or binding: {name: ...}",
  },
  {
    message: /state .* is not supported for SR-IOV NICs/,
    hint: "remove state from SR-IOV interfaces; their link state cannot be set",
  },
  {
    message: /is supported only for bridge binding/,
    hint: "only bridge interfaces can be hot-unplugged (state: absent)",
  },
  {
    message: /is not supported on default networks/,
    hint: "the primary network cannot be unplugged; remove state: absent",
  },
  { message: /interface state value is unsupported/, hint: "state must be up, down or absent" },
  {
    message: /^more than one interface is connected to a pod network/,
    hint: "keep a single pod network; attach further interfaces through multus networks",
  },
  { message: /^Multus CNI should only have one default network/, hint: "set default: true on one multus network only" },
  {
    message: /^Pod network cannot be defined when Multus default network is defined/,
    hint: "remove the pod network, or drop default: true from the multus network",
  },
  { message: /^should have a network type/, hint: "add pod: {} or multus: {networkName: ...} to the network" },
  { message: /^should have only one network type/, hint: "keep exactly one of pod, multus or resourceClaim" },
  {
    message: /^CNI delegating plugin must have a networkName/,
    hint: "set multus.networkName to a NAD name (or ns/name)",
  },
  { message: /already exists, every network must have a unique name/, hint: "rename one of the networks" },
  {
    message: /^Only one interface can be connected to one specific network/,
    hint: "rename one of the interfaces; each interface pairs with the network of the same name",
  },
  {
    message: /'.*' not found\.$/,
    field: /networks\[\d+\]\.name$/,
    hint: "add an interface with the same name as this network, or remove the network",
  },
  {
    message: /'.*' not found\.$/,
    hint: "add a network with the same name as this interface (pod: {} or multus: {...})",
  },
  {
    message: /^Network interface name can only contain/,
    hint: "use only letters, digits, - and _ in the interface name",
  },
  {
    message: /uses model .* that is not supported/,
    hint: "use one of e1000, e1000e, igb, ne2k_pci, pcnet, rtl8139, virtio",
  },
  {
    message: /has malformed MAC address|has too long MAC address/,
    hint: "write the MAC as six octets, e.g. de:ad:00:00:be:af",
  },
  { message: /has malformed PCI address/, hint: "write the PCI address as DDDD:BB:SS.F, e.g. 0000:81:00.1" },
  { message: /^Duplicate name of the port/, hint: "give each port a distinct name" },
  { message: /^Invalid name of the port/, hint: "port names are 1-15 lowercase letters, digits and -, with a letter" },
  { message: /^Port field is mandatory|^Port field must be in range/, hint: "set port to a number from 1 to 65535" },
  { message: /^Unknown protocol, only TCP or UDP allowed/, hint: 'protocol must be "TCP" or "UDP" (upper case)' },
  {
    message: /PortRangesSpec feature gate is not enabled/,
    hint: "add PortRangesSpec to featureGates in the KubeVirt CR",
  },
  {
    message: /portRanges/,
    hint: "see the portRanges rules: masquerade only, no ports alongside, at most 10, no overlaps",
  },
  {
    message: /DHCPPrivateOptions/,
    hint: "use distinct private option codes between 224 and 254",
  },
  { message: /^NTP servers must be a list of valid IPv4 addresses/, hint: "list NTP servers as IPv4 addresses" },
  { message: /must have a boot order > 0/, hint: "bootOrder starts at 1" },
  {
    message: /^Boot order for .* already set for a different device/,
    hint: "give every disk and interface its own bootOrder",
  },
  {
    message: /is only allowed if the Pod Network is attached/,
    hint: "attach a pod network, or use an exec probe",
  },
  // Virtink admission (Virtink reference §2.3); messages start with the field path.
  {
    message: /: Required value: at least 1 binding method is required/,
    hint: "add bridge: {} (or masquerade, sriov, vdpa)",
  },
  { message: /may not specify more than 1 binding method/, hint: "keep one binding method on the interface" },
  { message: /may not specify more than 1 network source/, hint: "keep either pod or multus on the network" },
  { message: /at least 1 network source is required/, hint: "add pod: {} or multus: {networkName: ...}" },
  { message: /must contain at least 4 IPs/, hint: "use a masquerade cidr of /30 or shorter (e.g. 10.0.2.0/30)" },
  { message: /invalid CIDR address|must specify subnet/, hint: "write the CIDR as address/prefix, e.g. 10.0.2.0/30" },
  { message: /invalid MAC address/, hint: "write the MAC as six octets, e.g. 52:54:00:12:34:56" },
  { message: /may not use vhost-user interface/, hint: "set cpu.dedicatedCPUPlacement: true and memory.hugepages" },
  {
    message: /VM spec may not be updated/,
    hint: "interfaces and networks of a Virtink VM cannot change; recreate the VM",
  },
  { message: /: Duplicate value: /, hint: "names must be unique within their list" },
  // vmnet's own checks.
  {
    message: /^vmNetworkCIDR has no effect|^vmIPv6NetworkCIDR has no effect/,
    hint: "remove the CIDR, or use masquerade on this network",
  },
  {
    message: /overlaps the pod network/,
    hint: "pick a range outside the pod network, e.g. the default 10.0.2.0/24 or fd10:0:2::/120",
  },
  { message: /has fewer than 4 addresses/, hint: "use a /30 or shorter prefix (a /126 or shorter for IPv6)" },
  {
    message: /is not a valid (IPv4 |IPv6 )?CIDR/,
    hint: "write the CIDR as address/prefix, e.g. 10.0.2.0/24 or fd10:0:2::/120",
  },
  {
    message: /^Network binding plugin .* is not registered/,
    hint: "register the plugin under spec.configuration.network.binding in the KubeVirt CR (see --kubevirt-config)",
  },
  {
    message: /^Bridge binding does not work with the/,
    hint: "use a bridge or ovs NAD for a bridge interface; macvlan and ipvlan need the pod interface to keep its MAC",
  },
  { message: /is not among the given ones/, hint: "fix the networkName, or pass the NAD with --nad FILE" },
  { message: /sets MTU .* outside the range/, hint: "set the NAD's mtu between 68 and 65535" },
  {
    message: /uses the macvtap CNI but its/,
    hint: 'annotate the NAD with k8s.v1.cni.cncf.io/resourceName: "macvtap.network.kubevirt.io/<host interface>"',
  },
  { message: /is also used by interface/, hint: "give each interface its own MAC address, or leave macAddress out" },
  {
    message: /is a multicast address/,
    hint: "clear bit 0 of the first octet; a locally administered unicast MAC starts with 02",
  },
  { message: /is all zeros/, hint: "use a real MAC address, or leave it out" },
  {
    message: /^Ports have no effect on a/,
    hint: "remove ports; bridge and SR-IOV guests receive all traffic (use masquerade to forward selected ports)",
  },
  {
    message: /has no interface of the same name/,
    hint: "add an interface with this network's name, or remove the network",
  },
  {
    message: /has no network of the same name/,
    hint: "add a network with this interface's name, or remove the interface",
  },
  { message: /^More than one pod network/, hint: "keep a single pod network; use multus for the others" },
  { message: /^More than one masquerade interface/, hint: "keep one masquerade interface (on the pod network)" },
  {
    message: /no device would be attached/,
    hint: "put sriov and vdpa interfaces on a multus network whose NAD provides the device",
  },
];

/** The hint for a cause, if one applies. */
export function hintFor(c: { readonly field: string; readonly message: string }): string | undefined {
  return HINTS.find((h) => h.message.test(c.message) && (!h.field || h.field.test(c.field)))?.hint;
}
