import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderCloudHypervisorNet, vmConfigFragment } from "../../src/hypervisor/cloud-hypervisor.ts";
import { PlanErrorCode } from "../../src/plan/errors.ts";
import type { PassthroughPlanOptions, VhostUserEnv } from "../../src/plan/passthrough-types.ts";
import {
  parseUserspaceConfigurationData,
  planVhostUser,
  vhostUserChNics,
  vhostUserNetTypeOf,
} from "../../src/plan/vhost-user.ts";
import { config, iface, link, multusNet, passthroughContext, pod, podNet, vm } from "./fixtures.ts";
import { assertGolden } from "./golden.ts";

const vhu = { kind: "vhostUser" } as const;
const model = vm(
  [
    iface("pod", { kind: "masquerade" }, { macAddress: "52:54:00:12:34:56" }),
    iface("dpdk0", vhu, { macAddress: "52:54:00:00:00:01" }),
    iface("dpdk1", vhu, { macAddress: "52:54:00:00:00:02" }),
  ],
  [podNet("pod"), multusNet("dpdk0", "ovs-dpdk"), multusNet("dpdk1", "ovs-dpdk")],
  { dialect: "virtink" },
);
const podFacts = pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"], 1400)]);
const CONTAINER = "0123456789abcdef0123456789abcdef";
const userspaceData = JSON.stringify([
  {
    containerId: CONTAINER,
    ifName: "net1",
    name: "ovs-dpdk",
    config: { type: "vhostuser", vhost: { mode: "client", socketfile: "net1-sock" } },
  },
  { containerId: CONTAINER, ifName: "net2", name: "ovs-dpdk", config: { vhost: { socketfile: "net2-sock" } } },
]);

const options = (vhostUser: VhostUserEnv | undefined): PassthroughPlanOptions => ({
  config: config(),
  pod: podFacts,
  ...(vhostUser === undefined ? {} : { passthrough: { vhostUser } }),
});
const planAll = (env: VhostUserEnv) =>
  ["dpdk0", "dpdk1"].map((n) => planVhostUser(passthroughContext(model, n, options(env))));

const cases: { name: string; env: VhostUserEnv }[] = [
  { name: "vhost-user-kube-ovn", env: { netType: "kube-ovn", vhostUserSocket: "/var/run/vhost-user/sock" } },
  {
    name: "vhost-user-userspace",
    env: {
      netType: "userspace",
      userspaceConfigurationData: userspaceData,
      existingDirectories: ["/var/run/vhost-user/0123456789ab"],
    },
  },
  { name: "vhost-user-userspace-flat-dir", env: { netType: "userspace", userspaceConfigurationData: userspaceData } },
];

describe("planVhostUser golden plans and Cloud Hypervisor renderings", () => {
  for (const c of cases) {
    it(c.name, () => {
      const plans = planAll(c.env);
      const rendered = {
        plans,
        cloudHypervisor: vmConfigFragment(renderCloudHypervisorNet(vhostUserChNics(plans))),
        cloudHypervisorWithVirtinkKubeOvnBug: vmConfigFragment(
          renderCloudHypervisorNet(vhostUserChNics(plans, { virtinkKubeOvnSocketBug: true })),
        ),
      };
      assertGolden(`${c.name}.json`, `${JSON.stringify(rendered, undefined, 2)}\n`);
    });
  }
});

describe("planVhostUser errors (Virtink's strings)", () => {
  const errors = [
    {
      name: "no NET_TYPE",
      env: undefined,
      code: PlanErrorCode.VhostUserNetTypeMissing,
      message: "network type not found",
    },
    {
      name: "an empty NET_TYPE",
      env: { netType: "" },
      code: PlanErrorCode.VhostUserNetTypeMissing,
      message: "network type not found",
    },
    {
      name: "kube-ovn without VHOST_USER_SOCKET",
      env: { netType: "kube-ovn" },
      code: PlanErrorCode.VhostUserSocketMissing,
      message: "vhost-user socket path not found",
    },
    {
      name: "userspace without an entry for the link",
      env: {
        netType: "userspace",
        userspaceConfigurationData: JSON.stringify([
          { containerId: CONTAINER, ifName: "net7", config: { vhost: { socketfile: "s" } } },
        ]),
      },
      code: PlanErrorCode.VhostUserLinkNotFound,
      message: "vhost-user link not found",
    },
    {
      name: "userspace without USERSPACE_CONFIGURATION_DATA",
      env: { netType: "userspace" },
      code: PlanErrorCode.VhostUserConfigInvalid,
      message: "userspace configuration data not found",
    },
    {
      name: "userspace data that is not JSON",
      env: { netType: "userspace", userspaceConfigurationData: "[" },
      code: PlanErrorCode.VhostUserConfigInvalid,
      message: "unmarshal userspace configuration data: Unexpected end of JSON input",
    },
    {
      name: "userspace entry without a socket file (the first entry for the link counts)",
      env: {
        netType: "userspace",
        userspaceConfigurationData: JSON.stringify([
          { containerId: CONTAINER, ifName: "net1", config: {} },
          { containerId: CONTAINER, ifName: "net1", config: { vhost: { socketfile: "later" } } },
        ]),
      },
      code: PlanErrorCode.VhostUserLinkNotFound,
      message: "vhost-user link not found",
    },
    {
      name: "userspace entry whose container id is shorter than 12 characters",
      env: {
        netType: "userspace",
        userspaceConfigurationData: JSON.stringify([
          { containerId: "abc", ifName: "net1", config: { vhost: { socketfile: "s" } } },
        ]),
      },
      code: PlanErrorCode.VhostUserConfigInvalid,
      message: 'Cannot use container id "abc" of link "net1": shorter than 12 characters',
    },
    {
      name: "another NET_TYPE",
      env: { netType: "ovs" },
      code: PlanErrorCode.VhostUserNetTypeUnsupported,
      message: "CNI plugin ovs is not supported for vhost-uesr",
    },
  ];
  for (const c of errors) {
    it(`fails on ${c.name}`, () => {
      assert.throws(
        () => planVhostUser(passthroughContext(model, "dpdk0", options(c.env))),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, c.code);
          assert.equal(e.message, c.message);
          return true;
        },
      );
    });
  }

  it("fails on kube-ovn without eth0 to take the MTU from", () => {
    const noEth0 = { ...options({ netType: "kube-ovn", vhostUserSocket: "/s" }), pod: pod([]) };
    assert.throws(() => planVhostUser(passthroughContext(model, "dpdk0", noEth0)), {
      code: PlanErrorCode.VhostUserConfigInvalid,
      message: "get link: Link not found",
    });
  });

  it("refuses a KubeVirt VM and a missing MAC", () => {
    const env = { netType: "kube-ovn", vhostUserSocket: "/s" };
    assert.throws(() => planVhostUser(passthroughContext({ ...model, dialect: "kubevirt" }, "dpdk0", options(env))), {
      code: PlanErrorCode.BindingUnsupported,
    });
    const noMac = {
      ...model,
      interfaces: model.interfaces.map((i) => (i.name === "dpdk0" ? iface("dpdk0", vhu) : i)),
    };
    assert.throws(() => planVhostUser(passthroughContext(noMac, "dpdk0", options(env))), {
      name: "PlanError",
      code: PlanErrorCode.VhostUserMacMissing,
      message: 'Cannot plan vhost-user interface "dpdk0": it has no MAC (Virtink\'s webhook always sets one)',
    });
  });
});

describe("vhostUserNetTypeOf", () => {
  const table = [
    {
      name: "kube-ovn",
      config: '{"cniVersion":"0.3.1","type":"kube-ovn","vhost_user_socket_name":"sock"}',
      want: "kube-ovn",
    },
    { name: "userspace", config: '{"type":"userspace","host":{"engine":"ovs-dpdk"}}', want: "userspace" },
  ];
  for (const c of table) {
    it(`reads ${c.name}`, () => {
      assert.equal(vhostUserNetTypeOf(c.config), c.want);
    });
  }
  const bad = [
    {
      name: "another plugin",
      config: '{"type":"bridge"}',
      message: "CNI plugin bridge is not supported for vhost-uesr",
    },
    { name: "no type", config: "{}", message: "CNI plugin  is not supported for vhost-uesr" },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with Virtink's message`, () => {
      assert.throws(() => vhostUserNetTypeOf(c.config), {
        code: PlanErrorCode.VhostUserNetTypeUnsupported,
        message: c.message,
      });
    });
  }
  it("rejects a config that is not JSON", () => {
    assert.throws(() => vhostUserNetTypeOf("{"), { code: PlanErrorCode.VhostUserConfigInvalid });
  });
});

describe("parseUserspaceConfigurationData", () => {
  it("keeps the keys Virtink reads and fills missing ones with empty strings", () => {
    assert.deepEqual(
      parseUserspaceConfigurationData(
        '[{"ifName":"net1"}, 3, {"containerId":"c","ifName":"net2","config":{"vhost":{"socketfile":"s"}}}]',
      ),
      [
        { containerId: "", ifName: "net1", config: { vhost: { socketfile: "" } } },
        { containerId: "c", ifName: "net2", config: { vhost: { socketfile: "s" } } },
      ],
    );
  });
  it("rejects a value that is not an array", () => {
    assert.throws(() => parseUserspaceConfigurationData("{}"), {
      code: PlanErrorCode.VhostUserConfigInvalid,
      message: "unmarshal userspace configuration data: expected a JSON array",
    });
  });
});
