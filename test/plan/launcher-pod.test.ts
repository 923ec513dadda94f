import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterConfig } from "../../src/api/cluster-config.ts";
import type { KvBindingPlugin } from "../../src/api/kubevirt-types.ts";
import type { InterfaceSpec, NetworkSpec, VmNetworkModel } from "../../src/api/model.ts";
import { PlanError } from "../../src/plan/errors.ts";
import type { LauncherPodOptions } from "../../src/plan/launcher-pod.ts";
import { renderLauncherPodNetworking } from "../../src/plan/launcher-pod.ts";
import type { PlanNad } from "../../src/plan/plan.ts";
import { modelMemoryOverhead } from "../../src/plan/plugins/registry.ts";
import { config, iface, multusNet, podNet, vm } from "./fixtures.ts";

const bridge = { kind: "bridge" } as const;
const masq = { kind: "masquerade" } as const;
const sriov = { kind: "sriov" } as const;
const plugin = (name: string) => ({ kind: "plugin", name }) as const;
const withPlugins = (bindingPlugins: Record<string, KvBindingPlugin>, extra: Partial<ClusterConfig> = {}) => ({
  ...config(),
  bindingPlugins,
  ...extra,
});
/** KubeVirt with the built-in NAD resource injection on (ExternalNetResourceInjection is Beta, so on by default). */
const injecting = (extra: Partial<ClusterConfig> = {}): ClusterConfig => ({
  ...config(),
  disabledFeatureGates: ["ExternalNetResourceInjection"],
  ...extra,
});
const nad = (name: string, extra: Partial<PlanNad> = {}, namespace = "default"): PlanNad => ({
  namespace,
  name,
  ...extra,
});
const networksOf = (model: VmNetworkModel, options: Partial<LauncherPodOptions> = {}) =>
  renderLauncherPodNetworking(model, { config: config(), ...options }).annotations["k8s.v1.cni.cncf.io/networks"];

function expectPlanError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PlanError, `expected a PlanError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

describe("KubeVirt k8s.v1.cni.cncf.io/networks (§4.1)", () => {
  const cases: {
    name: string;
    interfaces: InterfaceSpec[];
    networks: NetworkSpec[];
    options?: Partial<LauncherPodOptions>;
    want: string | undefined;
  }[] = [
    {
      name: "the reference example: a plugin NAD on the pod network, blue and red on two namespaces",
      interfaces: [iface("default", plugin("mynetbindingplugin")), iface("blue", bridge), iface("red", bridge)],
      networks: [podNet(), multusNet("blue", "test1"), multusNet("red", "other-namespace/test1")],
      options: { config: withPlugins({ mynetbindingplugin: { networkAttachmentDefinition: "test-binding-net" } }) },
      want: '[{"name":"test-binding-net","namespace":"default","cni-args":{"logicNetworkName":"default"}},{"name":"test1","namespace":"default","interface":"pod16477688c0e"},{"name":"test1","namespace":"other-namespace","interface":"podb1f51a511f1"}]',
    },
    {
      name: "a spec MAC between namespace and interface",
      interfaces: [iface("default", masq), iface("blue", bridge, { macAddress: "02:00:00:00:00:01" })],
      networks: [podNet(), multusNet("blue", "test1")],
      want: '[{"name":"test1","namespace":"default","mac":"02:00:00:00:00:01","interface":"pod16477688c0e"}]',
    },
    {
      name: "a secondary network's plugin element after its own element",
      interfaces: [iface("default", masq), iface("blue", plugin("p"))],
      networks: [podNet(), multusNet("blue", "test1")],
      options: { config: withPlugins({ p: { networkAttachmentDefinition: "ns2/binding-nad" } }) },
      want: '[{"name":"test1","namespace":"default","interface":"pod16477688c0e"},{"name":"binding-nad","namespace":"ns2","cni-args":{"logicNetworkName":"blue"}}]',
    },
    {
      name: "ordinal names when the pod's network-status has one",
      interfaces: [iface("default", masq), iface("blue", bridge), iface("red", bridge)],
      networks: [podNet(), multusNet("blue", "test1"), multusNet("red", "test2")],
      options: { networkStatus: [{ name: "default/test1", interface: "net1" }] },
      want: '[{"name":"test1","namespace":"default","interface":"net1"},{"name":"test2","namespace":"default","interface":"net2"}]',
    },
    {
      name: "hashed names on a migration target with PodSecondaryInterfaceNamingUpgrade on",
      interfaces: [iface("default", masq), iface("blue", bridge)],
      networks: [podNet(), multusNet("blue", "test1")],
      options: { networkStatus: [{ name: "default/test1", interface: "net1" }], migrationTarget: true },
      want: '[{"name":"test1","namespace":"default","interface":"pod16477688c0e"}]',
    },
    {
      name: "ordinal names kept on a migration target with the upgrade gate off",
      interfaces: [iface("default", masq), iface("blue", bridge)],
      networks: [podNet(), multusNet("blue", "test1")],
      options: {
        config: { ...config(), disabledFeatureGates: ["PodSecondaryInterfaceNamingUpgrade"] },
        networkStatus: [{ name: "default/test1", interface: "net1" }],
        migrationTarget: true,
      },
      want: '[{"name":"test1","namespace":"default","interface":"net1"}]',
    },
    {
      name: "no element for an absent interface's network",
      interfaces: [iface("default", masq), iface("blue", bridge, { state: "absent" }), iface("red", bridge)],
      networks: [podNet(), multusNet("blue", "test1"), multusNet("red", "test2")],
      want: '[{"name":"test2","namespace":"default","interface":"podb1f51a511f1"}]',
    },
    {
      name: "no annotation for the pod network alone",
      interfaces: [iface("default", masq)],
      networks: [podNet()],
      want: undefined,
    },
    {
      name: "no element for a Multus default network",
      interfaces: [iface("default", bridge)],
      networks: [{ name: "default", source: { kind: "multus", networkName: "ns1/flat", default: true } }],
      want: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(networksOf(vm(c.interfaces, c.networks), c.options), c.want);
    });
  }

  it("refuses a plugin the CR does not register, with virt-controller's message", () => {
    expectPlanError(
      () => networksOf(vm([iface("default", plugin("nope"))], [podNet()])),
      "plugin_not_registered",
      "unable to find the network binding plugin 'nope' in Kubevirt configuration",
    );
  });

  it("sets v1.multus-cni.io/default-network to the raw networkName of the Multus default network", () => {
    const model = vm(
      [iface("default", bridge)],
      [{ name: "default", source: { kind: "multus", networkName: "ns1/flat", default: true } }],
    );
    const pod = renderLauncherPodNetworking(model, { config: config() });
    assert.equal(pod.annotations["v1.multus-cni.io/default-network"], "ns1/flat");
  });
});

describe("KubeVirt launcher resources (§4.4)", () => {
  const cases: {
    name: string;
    model: VmNetworkModel;
    options: LauncherPodOptions;
    requests: Record<string, string>;
    limits: Record<string, string>;
  }[] = [
    {
      name: "tun and vhost-net for a virtio NIC, in limits",
      model: vm([iface("default", masq)], [podNet()]),
      options: { config: config() },
      requests: {},
      limits: { "devices.kubevirt.io/tun": "1", "devices.kubevirt.io/vhost-net": "1" },
    },
    {
      name: "no vhost-net under useEmulation",
      model: vm([iface("default", masq)], [podNet()]),
      options: { config: { ...config(), useEmulation: true } },
      requests: {},
      limits: { "devices.kubevirt.io/tun": "1" },
    },
    {
      name: "no vhost-net for an e1000 NIC",
      model: vm([iface("default", masq, { model: "e1000" })], [podNet()]),
      options: { config: config() },
      requests: {},
      limits: { "devices.kubevirt.io/tun": "1" },
    },
    {
      name: "no tun with no interface and autoattachPodInterface false",
      model: vm([], []),
      options: { config: config(), autoattachPodInterface: false },
      requests: {},
      limits: {},
    },
    {
      name: "NAD resourceName requests, one per network, with ExternalNetResourceInjection off",
      model: vm(
        [iface("default", masq), iface("vf1", sriov), iface("vf2", sriov), iface("mv", plugin("macvtap"))],
        [podNet(), multusNet("vf1", "sriov-net"), multusNet("vf2", "sriov-net"), multusNet("mv", "macvtapnet")],
      ),
      options: {
        config: injecting({ bindingPlugins: { macvtap: { domainAttachmentType: "tap" } } }),
        nads: [
          nad("sriov-net", { resourceName: "intel.com/sriov_net" }),
          nad("macvtapnet", { resourceName: "macvtap.network.kubevirt.io/eth0" }),
        ],
      },
      requests: { "intel.com/sriov_net": "2", "macvtap.network.kubevirt.io/eth0": "1" },
      limits: {
        "devices.kubevirt.io/tun": "1",
        "devices.kubevirt.io/vhost-net": "1",
        "intel.com/sriov_net": "2",
        "macvtap.network.kubevirt.io/eth0": "1",
      },
    },
    {
      name: "no NAD read with ExternalNetResourceInjection on (the default)",
      model: vm([iface("default", masq), iface("vf1", sriov)], [podNet(), multusNet("vf1", "sriov-net")]),
      options: { config: config() },
      requests: {},
      limits: { "devices.kubevirt.io/tun": "1", "devices.kubevirt.io/vhost-net": "1" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = renderLauncherPodNetworking(c.model, c.options).container.resources;
      assert.deepEqual(r.requests, c.requests);
      assert.deepEqual(r.limits, c.limits);
    });
  }

  it("fails like virt-controller when a NAD it must read is missing", () => {
    const model = vm([iface("default", masq), iface("vf1", sriov)], [podNet(), multusNet("vf1", "other/sriov-net")]);
    expectPlanError(
      () => renderLauncherPodNetworking(model, { config: injecting(), nads: [nad("sriov-net")] }),
      "nad_not_found",
      "failed to locate network attachment definition other/sriov-net",
    );
  });

  it("adds 250Mi for passtBinding and each distinct plugin's memory overhead once", () => {
    const model = vm(
      [
        iface("default", { kind: "passtBinding" }),
        iface("a", plugin("heavy")),
        iface("b", plugin("heavy")),
        iface("c", plugin("light")),
      ],
      [podNet(), multusNet("a", "na"), multusNet("b", "nb"), multusNet("c", "nc")],
    );
    const pod = renderLauncherPodNetworking(model, {
      config: withPlugins({
        heavy: { computeResourceOverhead: { requests: { memory: "1Gi" } } },
        light: {},
      }),
    });
    assert.deepEqual(pod.memoryOverhead, {
      bytes: 250 * 2 ** 20 + 2 ** 30,
      sources: [
        { source: "passtBinding", quantity: "250Mi" },
        { source: "plugin/heavy", quantity: "1Gi" },
      ],
    });
  });

  it("has no memory overhead for core bindings", () => {
    const pod = renderLauncherPodNetworking(vm([iface("default", masq)], [podNet()]), { config: config() });
    assert.equal(pod.memoryOverhead, undefined);
  });
});

describe("KubeVirt capabilities, ports and misc (§4.5)", () => {
  const model = vm(
    [
      iface("default", masq, {
        ports: [
          { name: "http", protocol: "TCP", port: 80 },
          { protocol: "UDP", port: 53 },
        ],
      }),
      iface("blue", bridge, { ports: [{ protocol: "TCP", port: 8080 }] }),
    ],
    [podNet(), multusNet("blue", "test1")],
    { name: "web.example" },
  );

  it("adds NET_BIND_SERVICE and drops ALL for a non-root VMI", () => {
    const c = renderLauncherPodNetworking(model, { config: config() }).container;
    assert.deepEqual(c.capabilities, { add: ["NET_BIND_SERVICE"], drop: ["ALL"] });
    assert.equal(c.name, "compute");
  });

  it("adds NET_BIND_SERVICE and SYS_NICE for a root VMI, dropping nothing", () => {
    const c = renderLauncherPodNetworking(model, { config: config(), nonRoot: false }).container;
    assert.deepEqual(c.capabilities, { add: ["NET_BIND_SERVICE", "SYS_NICE"], drop: [] });
  });

  it("renders one containerPort per interface port, any network", () => {
    assert.deepEqual(renderLauncherPodNetworking(model, { config: config() }).container.ports, [
      { name: "http", protocol: "TCP", containerPort: 80 },
      { protocol: "UDP", containerPort: 53 },
      { protocol: "TCP", containerPort: 8080 },
    ]);
  });

  const hostnames: [string, Partial<VmNetworkModel>, string][] = [
    ["the VM name up to its first dot", { name: "web.example" }, "web"],
    ["spec.hostname when set", { name: "web.example", hostname: "frontend" }, "frontend"],
    ["at most 63 characters", { name: "x".repeat(70) }, "x".repeat(63)],
  ];
  for (const [name, extra, want] of hostnames) {
    it(`hostname: ${name}`, () => {
      const pod = renderLauncherPodNetworking(vm([iface("default", masq)], [podNet()], extra), { config: config() });
      assert.equal(pod.hostname, want);
    });
  }

  it("copies the subdomain", () => {
    const pod = renderLauncherPodNetworking(vm([iface("default", masq)], [podNet()], { subdomain: "sub" }), {
      config: config(),
    });
    assert.equal(pod.subdomain, "sub");
  });

  it("sets both Istio annotations to k6t-eth0 for masquerade, even without injection", () => {
    const pod = renderLauncherPodNetworking(model, { config: config() });
    assert.equal(pod.annotations["traffic.sidecar.istio.io/kubevirtInterfaces"], "k6t-eth0");
    assert.equal(pod.annotations["istio.io/reroute-virtual-interfaces"], "k6t-eth0");
    assert.deepEqual(pod.labels, {});
    assert.equal(pod.automountServiceAccountToken, undefined);
  });

  it("sets no Istio annotation without masquerade", () => {
    const pod = renderLauncherPodNetworking(vm([iface("default", bridge)], [podNet()]), { config: config() });
    assert.deepEqual(Object.keys(pod.annotations), []);
  });

  it("copies sidecar.istio.io/inject to the label and mounts the token when it is true", () => {
    const pod = renderLauncherPodNetworking(model, { config: config(), istioInject: "True" });
    assert.deepEqual(pod.labels, { "sidecar.istio.io/inject": "True" });
    assert.equal(pod.automountServiceAccountToken, true);
  });
});

describe("KubeVirt binding plugin sidecars and network-info", () => {
  const cfg = withPlugins({
    sidecar: { sidecarImage: "quay.io/example/sidecar:v1", downwardAPI: "device-info" },
    plain: { sidecarImage: "quay.io/example/plain:v1" },
    noimage: {},
  });
  const model = vm(
    [
      iface("a", plugin("sidecar")),
      iface("b", plugin("plain")),
      iface("c", plugin("sidecar")),
      iface("d", plugin("noimage")),
    ],
    [multusNet("a", "na"), multusNet("b", "nb"), multusNet("c", "nc"), multusNet("d", "nd")],
  );

  it("adds one hook sidecar per distinct plugin with an image, device-info ones with the network-info mount", () => {
    const pod = renderLauncherPodNetworking(model, { config: cfg, firstSidecarIndex: 1 });
    assert.deepEqual(pod.sidecars, [
      {
        name: "hook-sidecar-1",
        plugin: "sidecar",
        image: "quay.io/example/sidecar:v1",
        networkInfoMount: true,
        nonRoot: true,
      },
      {
        name: "hook-sidecar-2",
        plugin: "plain",
        image: "quay.io/example/plain:v1",
        networkInfoMount: false,
        nonRoot: true,
      },
    ]);
    assert.deepEqual(pod.volumes, [
      {
        name: "network-info-annotation",
        downwardAPI: {
          items: [
            { path: "network-info", fieldRef: { fieldPath: "metadata.annotations['kubevirt.io/network-info']" } },
          ],
        },
      },
    ]);
    assert.deepEqual(pod.container.volumeMounts, [{ name: "network-info-annotation", mountPath: "/etc/podinfo" }]);
  });

  it("refuses an absent interface's unregistered plugin with the sidecar creator's message", () => {
    const absent = vm(
      [iface("default", masq), iface("x", plugin("gone"), { state: "absent" })],
      [podNet(), multusNet("x", "nx")],
    );
    expectPlanError(
      () => renderLauncherPodNetworking(absent, { config: config() }),
      "plugin_not_registered",
      "couldn't find configuration for network binding: gone",
    );
  });

  it("modelMemoryOverhead counts absent interfaces' plugins and skips unregistered ones, as memory.go", () => {
    const model = vm(
      [iface("a", plugin("heavy"), { state: "absent" }), iface("b", plugin("gone"))],
      [multusNet("a", "na"), multusNet("b", "nb")],
    );
    assert.deepEqual(
      modelMemoryOverhead(model, withPlugins({ heavy: { computeResourceOverhead: { requests: { memory: "64Mi" } } } })),
      {
        bytes: 64 * 2 ** 20,
        sources: [{ source: "plugin/heavy", quantity: "64Mi" }],
      },
    );
  });

  it("mounts network-info for SR-IOV and writes kubevirt.io/network-info from network-status", () => {
    const sriovVm = vm([iface("default", masq), iface("vf", sriov)], [podNet(), multusNet("vf", "sriov-net")]);
    const before = renderLauncherPodNetworking(sriovVm, { config: config() });
    assert.deepEqual(before.container.volumeMounts, [{ name: "network-info-annotation", mountPath: "/etc/podinfo" }]);
    assert.equal(before.annotations["kubevirt.io/network-info"], undefined);
    const after = renderLauncherPodNetworking(sriovVm, {
      config: config(),
      networkStatus: [
        { name: "k8s-pod-network", interface: "eth0", default: true },
        {
          name: "default/sriov-net",
          interface: "podc70d6cef7d4",
          mac: "4e:1c:aa:00:00:02",
          "device-info": { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:3b:10.2" } },
        },
      ],
    });
    assert.equal(
      after.annotations["kubevirt.io/network-info"],
      '{"interfaces":[{"network":"vf","deviceInfo":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:10.2"}},"mac":"4e:1c:aa:00:00:02"}]}',
    );
  });
});

describe("Virtink VM pod networking (virtink-network.md §3)", () => {
  const sriovVm = vm(
    [
      iface("pod", masq, { macAddress: "52:54:00:12:34:55" }),
      iface("sriov", sriov, { macAddress: "52:54:00:12:34:56" }),
    ],
    [podNet("pod"), multusNet("sriov", "intel-10g-sriov-vfio")],
    { dialect: "virtink" },
  );
  const sriovNad = nad("intel-10g-sriov-vfio", { resourceName: "intel.com/intel_10g_sriov_vfio" });

  it("renders the reference's Multus annotation: no namespace key, mac, net<j>", () => {
    const pod = renderLauncherPodNetworking(sriovVm, { config: config(), nads: [sriovNad] });
    assert.equal(
      pod.annotations["k8s.v1.cni.cncf.io/networks"],
      '[{"name":"intel-10g-sriov-vfio","mac":"52:54:00:12:34:56","interface":"net1"}]',
    );
  });

  it("adds kvm and tun always, +1 per Multus network on a NAD with resourceName, to requests and limits", () => {
    const twice = vm(
      [iface("a", sriov, { macAddress: "52:54:00:00:00:0a" }), iface("b", sriov, { macAddress: "52:54:00:00:00:0b" })],
      [multusNet("a", "intel-10g-sriov-vfio"), multusNet("b", "intel-10g-sriov-vfio")],
      { dialect: "virtink" },
    );
    const r = renderLauncherPodNetworking(twice, { config: config(), nads: [sriovNad] }).container.resources;
    const want = {
      "devices.virtink.io/kvm": "1",
      "devices.virtink.io/tun": "1",
      "intel.com/intel_10g_sriov_vfio": "2",
    };
    assert.deepEqual(r.requests, want);
    assert.deepEqual(r.limits, want);
  });

  it("gives the cloud-hypervisor container SYS_ADMIN, NET_ADMIN and SYS_RESOURCE", () => {
    const c = renderLauncherPodNetworking(sriovVm, { config: config(), nads: [sriovNad] }).container;
    assert.equal(c.name, "cloud-hypervisor");
    assert.deepEqual(c.capabilities, { add: ["SYS_ADMIN", "NET_ADMIN", "SYS_RESOURCE"], drop: [] });
  });

  it("appends enable-ip-forward per masquerade interface and NETWORK_STATUS per Multus network", () => {
    const model = vm(
      [
        iface("pod", masq, { macAddress: "52:54:00:00:00:01" }),
        iface("m2", masq, { macAddress: "52:54:00:00:00:02" }),
        iface("a", bridge, { macAddress: "52:54:00:00:00:03" }),
        iface("b", bridge, { macAddress: "52:54:00:00:00:04" }),
      ],
      [podNet("pod"), podNet("m2"), multusNet("a", "na"), multusNet("b", "nb")],
      { dialect: "virtink" },
    );
    const pod = renderLauncherPodNetworking(model, { config: config(), nads: [nad("na"), nad("nb")] });
    const ipForward = {
      name: "enable-ip-forward",
      privileged: true,
      command: ["sysctl", "-w", "net.ipv4.ip_forward=1"],
    };
    assert.deepEqual(pod.initContainers, [ipForward, ipForward]);
    const status = {
      name: "NETWORK_STATUS",
      valueFrom: { fieldRef: { fieldPath: "metadata.annotations['k8s.v1.cni.cncf.io/network-status']" } },
    };
    assert.deepEqual(pod.container.env, [status, status]);
    assert.equal(
      pod.annotations["k8s.v1.cni.cncf.io/networks"],
      '[{"name":"na","mac":"52:54:00:00:00:03","interface":"net2"},{"name":"nb","mac":"52:54:00:00:00:04","interface":"net3"}]',
    );
  });

  it("renders nothing for the pod network alone but the devices", () => {
    const model = vm([iface("pod", bridge, { macAddress: "52:54:00:00:00:01" })], [podNet("pod")], {
      dialect: "virtink",
    });
    const pod = renderLauncherPodNetworking(model, { config: config() });
    assert.deepEqual(pod.annotations, {});
    assert.deepEqual(pod.container.env, []);
    assert.deepEqual(pod.initContainers, []);
  });

  const dpdk = (networkName: string) =>
    vm(
      [
        iface("pod", masq, { macAddress: "52:54:00:00:00:01" }),
        iface("dpdk", { kind: "vhostUser" }, { macAddress: "52:54:00:00:00:02" }),
      ],
      [podNet("pod"), multusNet("dpdk", networkName)],
      { dialect: "virtink" },
    );

  it("wires a kube-ovn vhost-user NIC: node selector, MAC annotation, socket volume and env", () => {
    const config_ = JSON.stringify({
      type: "kube-ovn",
      vhost_user_socket_volume_name: "vhostuser-sockets",
      vhost_user_socket_name: "sock",
    });
    const pod = renderLauncherPodNetworking(dpdk("ovn-dpdk"), {
      config: config(),
      nads: [nad("ovn-dpdk", { config: config_ })],
    });
    assert.deepEqual(pod.nodeSelector, { "ovn.kubernetes.io/ovs_dp_type": "userspace" });
    assert.equal(pod.annotations["ovn-dpdk.default.ovn.kubernetes.io/mac_address"], "52:54:00:00:00:02");
    assert.deepEqual(pod.volumes, [{ name: "vhostuser-sockets", emptyDir: {} }]);
    assert.deepEqual(pod.container.volumeMounts, [{ name: "vhostuser-sockets", mountPath: "/var/run/vhost-user" }]);
    assert.deepEqual(pod.container.env.slice(1), [
      { name: "VHOST_USER_SOCKET", value: "/var/run/vhost-user/sock" },
      { name: "NET_TYPE", value: "kube-ovn" },
    ]);
  });

  it("wires userspace-CNI vhost-user NICs once: host socket dir and the configuration-data env", () => {
    const model = vm(
      [
        iface("d0", { kind: "vhostUser" }, { macAddress: "52:54:00:00:00:02" }),
        iface("d1", { kind: "vhostUser" }, { macAddress: "52:54:00:00:00:03" }),
      ],
      [multusNet("d0", "us"), multusNet("d1", "us")],
      { dialect: "virtink" },
    );
    const pod = renderLauncherPodNetworking(model, {
      config: config(),
      nads: [nad("us", { config: '{"type":"userspace"}' })],
    });
    assert.deepEqual(pod.volumes, [
      { name: "vhost-user-sockets", hostPath: { path: "/usr/local/var/run/openvswitch/" } },
    ]);
    assert.deepEqual(pod.container.volumeMounts, [{ name: "vhost-user-sockets", mountPath: "/var/run/vhost-user" }]);
    assert.deepEqual(
      pod.container.env.map((e) => e.name),
      ["NETWORK_STATUS", "USERSPACE_CONFIGURATION_DATA", "NET_TYPE", "NETWORK_STATUS"],
    );
    assert.deepEqual(pod.container.env[1], {
      name: "USERSPACE_CONFIGURATION_DATA",
      valueFrom: { fieldRef: { fieldPath: "metadata.annotations['userspace/configuration-data']" } },
    });
  });

  const errors: { name: string; model: VmNetworkModel; nads: PlanNad[]; code: string; message: string }[] = [
    {
      name: "a vhost-user NAD of another CNI, with Virtink's typo",
      model: dpdk("br"),
      nads: [nad("br", { config: '{"type":"bridge"}' })],
      code: "vhost_user_net_type_unsupported",
      message: "CNI plugin bridge is not supported for vhost-uesr",
    },
    {
      name: "a NAD that does not exist in the VM's namespace",
      model: vm([iface("a", sriov, { macAddress: "52:54:00:00:00:0a" })], [multusNet("a", "other/nad")], {
        dialect: "virtink",
      }),
      nads: [nad("nad", {}, "other")],
      code: "nad_not_found",
      message: 'get NAD: network-attachment-definitions.k8s.cni.cncf.io "other/nad" not found',
    },
    {
      name: "a network without an interface",
      model: vm([], [podNet("pod")], { dialect: "virtink" }),
      nads: [],
      code: "network_not_found",
      message: "interface not found for network: pod",
    },
  ];
  for (const c of errors) {
    it(`refuses ${c.name}`, () => {
      expectPlanError(
        () => renderLauncherPodNetworking(c.model, { config: config(), nads: c.nads }),
        c.code,
        c.message,
      );
    });
  }
});
