/**
 * The lab and VM commands' argument handling, run as real processes: bad usage exits 2 with a one-line reason before
 * anything is created, a denied VM exits 1 with the webhook's message, and commands on a VM that does not exist fail
 * cleanly. Needs no lab (a private, empty state directory).
 */
import assert from "node:assert/strict";
import { readdirSync, rmSync } from "node:fs";
import { after, describe, test } from "node:test";
import { TestLab } from "../support/vm-lab.ts";

// No lab is ever created: the tests only need vmnet run against a private, empty state directory.
const lab = new TestLab("vmnt-usage-", { timeout: 60_000 });
const STATE = lab.state;
const vmnet = (...args: string[]) => lab.vmnet(...args);
after(() => rmSync(STATE, { recursive: true, force: true }));

describe("lab and VM commands: usage errors exit 2 and create nothing", () => {
  const cases = [
    { args: ["lab"], stderr: /"vmnet lab" needs create, destroy or exec/ },
    { args: ["lab", "grow"], stderr: /Unknown lab command "grow"/ },
    { args: ["lab", "create", "--ip-family", "ipv5"], stderr: /"--ip-family" must be one of "ipv4", "ipv6", "dual"/ },
    { args: ["lab", "exec", "client"], stderr: /"vmnet lab exec" needs POD -- CMD/ },
    { args: ["up"], stderr: /"vmnet up" needs -f VM\.yaml/ },
    { args: ["up", "-f", "examples/vm/masquerade.yaml", "--accel", "hvf"], stderr: /"--accel" must be one of/ },
    { args: ["up", "-f", "no-such.yaml"], stderr: /no-such\.yaml: cannot read: no such file/ },
    { args: ["down"], stderr: /"vmnet down" takes one VM NAME/ },
    { args: ["status", "vm", "-o", "xml"], stderr: /"--output" must be one of "yaml", "json"/ },
    { args: ["exec", "vm"], stderr: /"vmnet exec" needs NAME -- CMD/ },
    { args: ["exec", "vm", "--timeout", "soon", "--", "true"], stderr: /"--timeout" needs whole seconds/ },
    { args: ["link", "vm", "default", "sideways"], stderr: /"vmnet link" takes NAME IFACE up\|down/ },
    { args: ["list", "extra"], stderr: /"vmnet list" takes no arguments/ },
  ];
  for (const c of cases) {
    test(`vmnet ${c.args.join(" ")}`, async () => {
      const r = await vmnet(...c.args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.stderr);
      assert.deepEqual(readdirSync(STATE), [], "nothing was created");
    });
  }
});

describe("lab and VM commands: failures exit 1 with one line", () => {
  test("a VM the webhook denies is refused before any lab exists", async () => {
    const r = await vmnet("up", "-f", "examples/kubevirt/slirp.yaml");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^vmnet up: Slirp interface support has been discontinued/m);
    assert.deepEqual(readdirSync(STATE), []);
  });

  const missing = [
    { args: ["status", "ghost"], stderr: /^vmnet status: Cannot find VM "ghost"/ },
    { args: ["exec", "ghost", "--", "true"], stderr: /^vmnet exec: Cannot find VM "ghost"/ },
    { args: ["link", "ghost", "default", "down"], stderr: /^vmnet link: Cannot find VM "ghost"/ },
    { args: ["lab", "exec", "client", "--", "true"], stderr: /no lab; run "vmnet lab create" first/ },
  ];
  for (const c of missing) {
    test(`vmnet ${c.args.join(" ")} on nothing`, async () => {
      const r = await vmnet(...c.args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.stderr);
    });
  }

  test("down of a VM that does not exist is fine (idempotent), list is empty", async () => {
    assert.deepEqual(await vmnet("down", "ghost"), {
      code: 0,
      stdout: 'VM "ghost" not found, nothing to remove\n',
      stderr: "",
    });
    assert.equal((await vmnet("list")).stdout, "NAME  PHASE  POD IPS  ACCEL\n");
    assert.equal((await vmnet("list", "-o", "json")).stdout, "[]\n");
  });
});
