import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterConfig } from "../../src/api/cluster-config.ts";
import type { KvBindingPlugin } from "../../src/api/kubevirt-types.ts";
import { PlanError } from "../../src/plan/errors.ts";
import { planPod } from "../../src/plan/plan.ts";
import { planTapAttachment } from "../../src/plan/plugins/builtin.ts";
import { deviceInfoFile } from "../../src/plan/plugins/device-info.ts";
import type { BindingPlugin } from "../../src/plan/plugins/plugin.ts";
import { PluginRegistry } from "../../src/plan/plugins/plugin.ts";
import { parseMemoryQuantity, pluginNetworkSelection, resolvePlugin } from "../../src/plan/plugins/registry.ts";
import { config, iface, link, pod, podNet, vm } from "./fixtures.ts";

const eth0 = link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"]);
const plugin = (name: string) => ({ kind: "plugin", name }) as const;
const cfg = (plugins: Record<string, KvBindingPlugin>): ClusterConfig => ({ ...config(), bindingPlugins: plugins });

describe("resolvePlugin", () => {
  const cases: { name: string; registered: Record<string, KvBindingPlugin>; use: string; want: string }[] = [
    { name: "built-in passt by name", registered: { passt: {} }, use: "passt", want: "passt" },
    { name: "built-in slirp by name", registered: { slirp: {} }, use: "slirp", want: "slirp" },
    {
      name: "built-in macvtap by name, whatever the attachment type",
      registered: { macvtap: { domainAttachmentType: "managedTap" } },
      use: "macvtap",
      want: "macvtap",
    },
    {
      name: "another name with managedTap",
      registered: { mine: { domainAttachmentType: "managedTap" } },
      use: "mine",
      want: "managedTap",
    },
    { name: "another name with tap", registered: { mine: { domainAttachmentType: "tap" } }, use: "mine", want: "tap" },
    { name: "another name with no attachment type", registered: { mine: {} }, use: "mine", want: "tap" },
  ];
  for (const c of cases) {
    it(`resolvePlugin: ${c.name}`, () => {
      assert.equal(resolvePlugin(cfg(c.registered), c.use).plugin.name, c.want);
    });
  }

  const unregistered: [string, Record<string, KvBindingPlugin>][] = [
    ["passt", {}],
    ["macvtap", { passt: {} }],
    ["toString", {}],
  ];
  for (const [name, registered] of unregistered) {
    it(`resolvePlugin: refuses "${name}" when the CR does not register it`, () => {
      assert.throws(
        () => resolvePlugin(cfg(registered), name),
        (e: unknown) =>
          e instanceof PlanError &&
          e.code === "plugin_not_registered" &&
          e.message === `unable to find the network binding plugin '${name}' in Kubevirt configuration`,
      );
    });
  }

  it("resolvePlugin: an extra registry wins over the built-in plugin of that name", () => {
    const mine: BindingPlugin = { name: "passt", domainAttachment: "tap", plan: planTapAttachment };
    assert.equal(resolvePlugin(cfg({ passt: {} }), "passt", new PluginRegistry([mine])).plugin, mine);
  });
});

describe("PluginRegistry", () => {
  it("PluginRegistry: refuses a second plugin of the same name", () => {
    const p: BindingPlugin = { name: "x", domainAttachment: "tap", plan: planTapAttachment };
    assert.throws(() => new PluginRegistry([p, p]), TypeError);
  });
  it("PluginRegistry: lists names in registration order", () => {
    const mk = (name: string): BindingPlugin => ({ name, domainAttachment: "tap", plan: planTapAttachment });
    assert.deepEqual(new PluginRegistry([mk("b"), mk("a")]).names(), ["b", "a"]);
  });
});

describe("pluginNetworkSelection", () => {
  const model = vm([iface("default", plugin("p"))], [podNet()], { namespace: "default" });
  const cases: { name: string; reg: KvBindingPlugin; want: string | undefined }[] = [
    { name: "no NAD adds nothing", reg: {}, want: undefined },
    { name: "an empty NAD adds nothing", reg: { networkAttachmentDefinition: "" }, want: undefined },
    {
      name: "a bare NAD name takes the VM's namespace (§4.1 example)",
      reg: { networkAttachmentDefinition: "test-binding-net" },
      want: '{"name":"test-binding-net","namespace":"default","cni-args":{"logicNetworkName":"default"}}',
    },
    {
      name: "a namespaced NAD is split at the slash",
      reg: { networkAttachmentDefinition: "kube-system/passt-net" },
      want: '{"name":"passt-net","namespace":"kube-system","cni-args":{"logicNetworkName":"default"}}',
    },
  ];
  for (const c of cases) {
    it(`pluginNetworkSelection: ${c.name}`, () => {
      const got = pluginNetworkSelection(model, "default", c.reg);
      assert.equal(got === undefined ? undefined : JSON.stringify(got), c.want);
    });
  }
});

describe("parseMemoryQuantity", () => {
  const good: [string, number][] = [
    ["250Mi", 262_144_000],
    ["1Gi", 1_073_741_824],
    ["64M", 64_000_000],
    ["1.5Ki", 1536],
    ["128974848", 128_974_848],
    ["129e6", 129_000_000],
    ["+1k", 1000],
    ["100m", 1],
    ["0", 0],
  ];
  for (const [text, bytes] of good) {
    it(`parseMemoryQuantity: "${text}" is ${bytes} bytes`, () => assert.equal(parseMemoryQuantity(text), bytes));
  }
  for (const text of ["", "Mi", "250 Mi", "250mi", "-1Mi", "1.2.3", "1e", "99999Pi"]) {
    it(`parseMemoryQuantity: refuses "${text}"`, () => assert.throws(() => parseMemoryQuantity(text), SyntaxError));
  }
});

describe("planPod binding plugins", () => {
  it("planPod plugins: a plugin's overhead counts once however many interfaces use it, added to passtBinding's", () => {
    const model = vm(
      [iface("default", { kind: "passtBinding" }), iface("a", plugin("mine")), iface("b", plugin("mine"))],
      [
        podNet(),
        { name: "a", source: { kind: "multus", networkName: "na", default: false } },
        {
          name: "b",
          source: { kind: "multus", networkName: "nb", default: false },
        },
      ],
    );
    const links = [
      eth0,
      link("podca978112ca1", 4, "02:00:00:00:00:0a", []),
      link("pod3e23e816003", 5, "02:00:00:00:00:0b", []),
    ];
    const plan = planPod(model, {
      config: cfg({ mine: { domainAttachmentType: "tap", computeResourceOverhead: { requests: { memory: "10Mi" } } } }),
      pod: pod(links),
    });
    assert.deepEqual(plan.memoryOverhead, {
      bytes: 260 * 2 ** 20,
      sources: [
        { source: "passtBinding", quantity: "250Mi" },
        { source: "plugin/mine", quantity: "10Mi" },
      ],
    });
  });

  it("planPod plugins: a bad overhead quantity is a plan error naming it", () => {
    const model = vm([iface("default", plugin("mine"))], [podNet()]);
    const config = cfg({ mine: { computeResourceOverhead: { requests: { memory: "lots" } } } });
    assert.throws(
      () => planPod(model, { config, pod: pod([eth0]) }),
      (e: unknown) =>
        e instanceof PlanError &&
        e.message === 'Cannot add the memory overhead "lots" of "plugin/mine": it is not a quantity',
    );
  });

  it("planPod plugins: managedTap has the bridge links without fake IP, DHCP server or DHCP guard", () => {
    const plan = planPod(vm([iface("default", plugin("m"))], [podNet()]), {
      config: cfg({ m: { domainAttachmentType: "managedTap" } }),
      pod: pod([eth0]),
    });
    const p = plan.interfaces[0];
    assert.deepEqual(
      p?.links.map((l) => `${l.kind}:${l.name.value}:${l.addresses.join(",")}`),
      ["bridge:k6t-eth0:", "existing:eth0-nic:", "tap:tap0:", "dummy:eth0:10.244.1.5/24"],
    );
    assert.equal(p?.dhcpv4, undefined);
    assert.deepEqual(plan.nft, { tables: [] });
    assert.deepEqual(p?.sysctls, [{ key: "net.ipv4.conf.all.arp_ignore", value: "1" }]);
  });

  it("planPod plugins: a tap attachment uses the pod interface when KubeVirt's tap name does not exist", () => {
    const plan = planPod(vm([iface("default", plugin("t"))], [podNet()]), {
      config: cfg({ t: { domainAttachmentType: "tap" } }),
      pod: pod([eth0]),
    });
    assert.equal(plan.interfaces[0]?.guest.tapName.value, "eth0");
    assert.deepEqual(plan.interfaces[0]?.links, []);
  });

  it("planPod plugins: a custom plugin plans through the registry and gets the registration's plugin plan", () => {
    const seen: string[] = [];
    const mine: BindingPlugin = {
      name: "custom",
      domainAttachment: "tap",
      plan: (ctx) => {
        seen.push(`${ctx.pluginName}:${ctx.registration.sidecarImage}`);
        return planTapAttachment(ctx);
      },
    };
    const plan = planPod(vm([iface("default", plugin("custom"))], [podNet()]), {
      config: cfg({ custom: { sidecarImage: "img", downwardAPI: "device-info", migration: {} } }),
      pod: pod([eth0]),
      plugins: new PluginRegistry([mine]),
    });
    assert.deepEqual(seen, ["custom:img"]);
    assert.deepEqual(plan.interfaces[0]?.plugin, {
      name: "custom",
      domainAttachment: "tap",
      sidecarImage: "img",
      migration: {},
      downwardAPI: "device-info",
    });
  });

  it("planPod plugins: a plugin planning another binding kind is a TypeError", () => {
    const liar: BindingPlugin = {
      name: "liar",
      domainAttachment: "tap",
      plan: (ctx) => ({ ...planTapAttachment(ctx), binding: "bridge" }),
    };
    assert.throws(
      () =>
        planPod(vm([iface("default", plugin("liar"))], [podNet()]), {
          config: cfg({ liar: {} }),
          pod: pod([eth0]),
          plugins: new PluginRegistry([liar]),
        }),
      TypeError,
    );
  });

  it("planPod plugins: an unregistered plugin fails planning with virt-controller's message", () => {
    assert.throws(
      () => planPod(vm([iface("default", plugin("nope"))], [podNet()]), { config: config(), pod: pod([eth0]) }),
      /^PlanError: unable to find the network binding plugin 'nope' in Kubevirt configuration$/u,
    );
  });
});

describe("deviceInfoFile", () => {
  const model = vm(
    [iface("default", { kind: "masquerade" }), iface("red", plugin("dev")), iface("blue", plugin("dev"))],
    [
      podNet(),
      { name: "red", source: { kind: "multus", networkName: "nr", default: false } },
      { name: "blue", source: { kind: "multus", networkName: "nb", default: false } },
    ],
  );
  const withDevice = cfg({ dev: { downwardAPI: "device-info" } });
  const status = [
    { name: "kindnet", interface: "eth0", default: true },
    {
      name: "default/nr",
      interface: "podb1f51a511f1",
      mac: "02:00:00:00:00:0a",
      mtu: 1500,
      "device-info": { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:65:00.2" } },
    },
    { name: "default/nb", interface: "pod16477688c0e", mac: "02:00:00:00:00:0b" },
  ];

  it("deviceInfoFile: none when no plugin asks for device-info", () => {
    assert.equal(deviceInfoFile(model, status, cfg({ dev: {} })), undefined);
  });

  it("deviceInfoFile: empty before Multus reported the plugin's networks", () => {
    assert.deepEqual(deviceInfoFile(model, [status[0] ?? { name: "x" }], withDevice), {
      path: "/etc/podinfo/network-info",
      content: "",
    });
  });

  it("deviceInfoFile: the network-info annotation, sorted by network name, Go key order", () => {
    assert.equal(
      deviceInfoFile(model, status, withDevice)?.content,
      '{"interfaces":[{"network":"blue","mac":"02:00:00:00:00:0b"},{"network":"red","deviceInfo":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:65:00.2"}},"mac":"02:00:00:00:00:0a","mtu":1500}]}',
    );
  });
});
