import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { ROOT, vmnet } from "./run.ts";

const POD_MASQUERADE = "examples/kubevirt/pod-masquerade.yaml";
const DENIED = "test/cli/fixtures/denied-kubevirt.yaml";
const WARNED = "test/cli/fixtures/warned-kubevirt.yaml";

/** No JavaScript stack trace ever reaches the user. */
function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m);
}

describe("vmnet validate", { concurrency: 4 }, () => {
  it("exits 0 and says allowed for an allowed VM", async () => {
    const r = await vmnet(["validate", POD_MASQUERADE]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${POD_MASQUERADE}: VirtualMachine "pod-masquerade": allowed\n`);
    assert.equal(r.stderr, "");
  });
  it("exits 1 with the JSON verdict for a denied VM (-o json)", async () => {
    const r = await vmnet(["validate", "-o", "json", DENIED]);
    assert.equal(r.code, 1);
    const v = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(v), ["allowed", "causes", "warnings", "message"]);
    assert.equal(v.allowed, false);
    assert.equal(v.causes.length, 4);
    assert.deepEqual(v.causes[1], {
      type: "FieldValueInvalid",
      field: "spec.template.spec.domain.devices.interfaces[1].name",
      message: "Masquerade interface only implemented with pod network",
      line: 15,
      column: 15,
    });
    assert.match(
      v.message,
      /^The requested MAC address is reserved for the in-pod bridge\. Please choose another one\., /,
    );
  });
  it("prints the same verdict as YAML (--output=yaml)", async () => {
    const [json, yaml] = await Promise.all([
      vmnet(["validate", "-o", "json", DENIED]),
      vmnet(["validate", "--output=yaml", DENIED]),
    ]);
    assert.equal(yaml.code, 1);
    assert.deepEqual(parse(yaml.stdout), JSON.parse(json.stdout));
  });
  it("reads standard input for -", async () => {
    const r = await vmnet(["validate", "-ojson", "-"], readFileSync(`${ROOT}${POD_MASQUERADE}`, "utf8"));
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { allowed: true, causes: [], warnings: [] });
  });
  it("reports vmnet's findings as warnings (JSON) and exits 0", async () => {
    const r = await vmnet(["validate", "-o", "json", WARNED]);
    assert.equal(r.code, 0);
    const v = JSON.parse(r.stdout);
    assert.equal(v.allowed, true);
    assert.deepEqual(v.causes, []);
    assert.equal(v.warnings.length, 3);
    assert.match(
      v.warnings[2],
      /^spec\.networks\[0\]\.pod\.vmNetworkCIDR: vmNetworkCIDR "10\.244\.100\.0\/24" overlaps/,
    );
    assert.equal(r.stderr, "");
  });
  it("denies on vmnet's findings with --strict", async () => {
    const r = await vmnet(["validate", "--strict", "-o", "json", WARNED]);
    assert.equal(r.code, 1);
    const v = JSON.parse(r.stdout);
    assert.equal(v.causes.length, 3);
    assert.deepEqual(v.warnings, []);
    assert.equal(v.causes[2].line, 21);
  });
  it("takes the pod CIDRs from --pod-cidr", async () => {
    const r = await vmnet(["validate", "--strict", "--pod-cidr", "10.96.0.0/12", "-o", "json", WARNED]);
    assert.equal(JSON.parse(r.stdout).causes.length, 2);
  });
  it("reports each VM of a file and the objects array in JSON", async () => {
    const r = await vmnet(["validate", "-o", "json", "test/cli/fixtures/two-vms.yaml"]);
    assert.equal(r.code, 1);
    const v = JSON.parse(r.stdout);
    assert.deepEqual(
      v.objects.map((o: { name: string; allowed: boolean }) => [o.name, o.allowed]),
      [
        ["good", true],
        ["bad", false],
      ],
    );
    assert.match(v.message, /^bad: logical mv interface state value is unsupported: sideways$/);
  });
  it("uses a NAD given with --nad", async () => {
    const r = await vmnet([
      "validate",
      "-o",
      "json",
      "--nad",
      "examples/nads/macvlan-test.yaml",
      "examples/kubevirt/multus-default-macvlan.yaml",
    ]);
    assert.equal(r.code, 0);
    assert.match(JSON.parse(r.stdout).warnings[0], /"macvlan" CNI of network attachment definition "macvlan-test"/);
  });
  it("uses the KubeVirt CR given with --kubevirt-config", async () => {
    const r = await vmnet([
      "validate",
      "-o",
      "json",
      "--kubevirt-config",
      "examples/kubevirt/kubevirt-cr-legacy-bindings.yaml",
      "examples/kubevirt/slirp.yaml",
    ]);
    assert.equal(r.code, 0, r.stdout);
  });
  it("uses a KubeVirt CR in the same file as the VM", async () => {
    const text = ["examples/kubevirt/kubevirt-cr-no-pod-bridge.yaml", "examples/kubevirt/bridge-default-refused.yaml"]
      .map((f) => readFileSync(`${ROOT}${f}`, "utf8"))
      .join("---\n");
    const r = await vmnet(["validate", "-o", "json", "-"], text);
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stdout), {
      allowed: false,
      causes: [],
      warnings: [],
      message: "bridge interface is not enabled in kubevirt-config",
    });
  });
  it("compares with the stored object given with --old (KubeVirt VMI update)", async () => {
    const r = await vmnet([
      "validate",
      "-o",
      "json",
      "--old",
      "examples/kubevirt/link-state-down-vmi.yaml",
      "examples/kubevirt/sriov-vmi.yaml",
    ]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).message, "update of VMI object is restricted");
  });
});

describe("vmnet validate: unreadable input exits 2 with one clear line", { concurrency: 4 }, () => {
  const cases: readonly { name: string; args: string[]; stderr: RegExp }[] = [
    {
      name: "missing file",
      args: ["validate", "nope.yaml"],
      stderr: /^vmnet validate: nope\.yaml: cannot read: no such file\n$/,
    },
    {
      name: "YAML syntax error",
      args: ["validate", "test/cli/fixtures/syntax-error.txt"],
      stderr: /^vmnet validate: test\/cli\/fixtures\/syntax-error\.txt:5:1: /,
    },
    {
      name: "unknown kind",
      args: ["validate", "test/cli/fixtures/unknown-kind.yaml"],
      stderr:
        /^vmnet validate: test\/cli\/fixtures\/unknown-kind\.yaml:2:1: unknown object with apiVersion "v1" and kind "Pod"/,
    },
    {
      name: "no VM in the file",
      args: ["validate", "examples/nads/bridge-test.yaml"],
      stderr:
        /^vmnet validate: examples\/nads\/bridge-test\.yaml: no VirtualMachine or VirtualMachineInstance in this file\n$/,
    },
    {
      name: "--kubevirt-config that is not a CR",
      args: ["validate", "--kubevirt-config", "examples/nads/bridge-test.yaml", POD_MASQUERADE],
      stderr: /examples\/nads\/bridge-test\.yaml:\d+: --kubevirt-config expects only a KubeVirt CR here/,
    },
    {
      name: "a KubeVirt CR both in the file and given with --kubevirt-config",
      args: [
        "validate",
        "--kubevirt-config",
        "examples/kubevirt/kubevirt-cr-no-pod-bridge.yaml",
        "test/cli/fixtures/with-cr.yaml",
      ],
      stderr:
        /More than one KubeVirt CR given \(test\/cli\/fixtures\/with-cr\.yaml:\d+, examples\/kubevirt\/kubevirt-cr-no-pod-bridge\.yaml:\d+\)/,
    },
    {
      name: "a KubeVirt CR that KubeVirt would reject",
      args: ["validate", "test/cli/fixtures/bad-cr.yaml"],
      stderr:
        /^vmnet validate: test\/cli\/fixtures\/bad-cr\.yaml:\d+:\d+: invalid KubeVirt CR: .*defaultNetworkInterface/,
    },
    {
      name: "--nad that is not a NAD",
      args: ["validate", "--nad", POD_MASQUERADE, POD_MASQUERADE],
      stderr: /--nad expects only NetworkAttachmentDefinitions here/,
    },
    {
      name: "--old of another dialect",
      args: ["validate", "--old", "examples/virtink/pod-bridge.yaml", POD_MASQUERADE],
      stderr: /the old object is a "virtink-vm", not a "kubevirt-vm"/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await vmnet(c.args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, c.stderr);
      assertNoStack(r.stderr);
    });
  }
});

describe("vmnet help prints the usage on stdout and exits 0", { concurrency: 4 }, () => {
  for (const args of [["help"], ["--help"], ["-h"], ["validate", "--help"]]) {
    it(args.join(" "), async () => {
      const r = await vmnet(args);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: vmnet <command>/);
      assert.equal(r.stderr, "");
    });
  }
});

describe("vmnet usage errors exit 2", { concurrency: 4 }, () => {
  const usage: readonly { name: string; args: string[]; stderr: RegExp }[] = [
    { name: "no arguments", args: [], stderr: /^Usage: vmnet <command>/ },
    { name: "unknown command", args: ["frobnicate"], stderr: /^vmnet: unknown command "frobnicate"\n\nUsage: / },
    {
      name: "unknown flag",
      args: ["validate", "--bogus", POD_MASQUERADE],
      stderr: /^vmnet validate: Unknown flag "--bogus"\n/,
    },
    {
      name: "bad output format",
      args: ["validate", "-o", "xml", POD_MASQUERADE],
      stderr: /Flag "--output" must be one of "text", "json", "yaml", not "xml"/,
    },
    {
      name: "flag without its value",
      args: ["validate", POD_MASQUERADE, "--nad"],
      stderr: /Flag "--nad" needs a value/,
    },
    { name: "no file", args: ["validate"], stderr: /"vmnet validate" needs a FILE/ },
    { name: "two files", args: ["validate", POD_MASQUERADE, DENIED], stderr: /takes one FILE, got 2/ },
    {
      name: "bad --pod-cidr",
      args: ["validate", "--pod-cidr", "10.0.0/8", POD_MASQUERADE],
      stderr: /Cannot parse pod CIDR "10\.0\.0\/8"/,
    },
    {
      name: "default with a validate-only flag",
      args: ["default", "--strict", POD_MASQUERADE],
      stderr: /Unknown flag "--strict"/,
    },
  ];
  for (const c of usage) {
    it(c.name, async () => {
      const r = await vmnet(c.args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, c.stderr);
    });
  }
});

describe("vmnet default", { concurrency: 4 }, () => {
  it("prints the defaulted KubeVirt VM as YAML", async () => {
    const r = await vmnet(["default", "examples/kubevirt/multiqueue.yaml"]);
    assert.equal(r.code, 0);
    const vm = parse(r.stdout);
    assert.deepEqual(vm.spec.template.spec.domain.devices.interfaces, [{ name: "default", bridge: {} }]);
    assert.deepEqual(vm.spec.template.spec.networks, [{ name: "default", pod: {} }]);
  });
  it("prints JSON with -o json and applies --kubevirt-config", async () => {
    const r = await vmnet(
      ["default", "-o", "json", "--kubevirt-config", "-", "examples/kubevirt/bridge-default-refused.yaml"],
      [
        "apiVersion: kubevirt.io/v1",
        "kind: KubeVirt",
        "metadata: {name: kubevirt}",
        "spec: {configuration: {network: {defaultNetworkInterface: masquerade}}}",
        "",
      ].join("\n"),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).spec.template.spec.domain.devices.interfaces, [
      { name: "default", masquerade: {} },
    ]);
  });
  it("generates Virtink MACs and binds interfaces without a method to bridge", async () => {
    const r = await vmnet(["default", "-o", "json", "examples/virtink/vdpa.yaml"]);
    assert.equal(r.code, 0);
    const ifaces = JSON.parse(r.stdout).spec.instance.interfaces;
    assert.equal(ifaces.length, 3);
    for (const i of ifaces) assert.match(i.mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.deepEqual(ifaces[0].bridge, {});
  });
  it("keeps the stored MAC on update (--old)", async () => {
    const r = await vmnet([
      "default",
      "-o",
      "json",
      "--old",
      "test/cli/fixtures/virtink-old.yaml",
      "test/cli/fixtures/virtink-new.yaml",
    ]);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).spec.instance.interfaces[0].mac, "52:54:00:dd:0d:5b");
  });
  it("prints a List for several VMs", async () => {
    const r = await vmnet(["default", "-o", "json", "test/cli/fixtures/two-vms.yaml"]);
    assert.equal(r.code, 0);
    const list = JSON.parse(r.stdout);
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ["good", "bad"],
    );
  });
  it("exits 1 with {allowed: false, message} when defaulting refuses", async () => {
    const r = await vmnet([
      "default",
      "-o",
      "json",
      "--kubevirt-config",
      "examples/kubevirt/kubevirt-cr-no-pod-bridge.yaml",
      "examples/kubevirt/bridge-default-refused.yaml",
    ]);
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stdout), {
      allowed: false,
      message: "bridge interface is not enabled in kubevirt-config",
    });
  });
  it("exits 2 for an unreadable file", async () => {
    const r = await vmnet(["default", "missing.yaml"]);
    assert.equal(r.code, 2);
    assertNoStack(r.stderr);
  });
});
