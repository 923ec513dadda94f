import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIpv6, parseIpv6 } from "../../src/api/ip.ts";
import { commandLine, HostCommandError, hostExecutor, RecordingExecutor } from "../../src/host/exec.ts";
import { IprouteNetlink, NetlinkBatchError } from "../../src/host/netlink.ts";
import { addVethPair, createNetns, deleteNetns, listNetns, moveLink, netnsPath } from "../../src/host/netns.ts";
import { kernelSkipReason, uniqueNetnsName, withNetns } from "./harness.ts";

describe("HostExecutor", () => {
  it("passes arguments without a shell", async () => {
    const r = await hostExecutor.run("echo", ["$(id)", "a;b"]);
    assert.equal(r.stdout, "$(id) a;b\n");
  });
  it("feeds stdin", async () => {
    assert.equal((await hostExecutor.run("cat", [], { stdin: "line1\nline2\n" })).stdout, "line1\nline2\n");
  });
  it("throws HostCommandError with command, exit code and stderr", async () => {
    await assert.rejects(hostExecutor.run("sh", ["-c", "echo boom >&2; exit 3"]), (e: unknown) => {
      assert.ok(e instanceof HostCommandError);
      assert.deepEqual(e.command, ["sh", "-c", "echo boom >&2; exit 3"]);
      assert.equal(e.exitCode, 3);
      assert.equal(e.stderr, "boom\n");
      assert.equal(e.retryable, false);
      return true;
    });
  });
  it("marks a busy kernel object as retryable", async () => {
    await assert.rejects(
      hostExecutor.run("sh", ["-c", "echo 'RTNETLINK answers: Device or resource busy' >&2; exit 2"]),
      (e: unknown) => e instanceof HostCommandError && e.retryable,
    );
  });
  it("resolves a failure when allowFailure is set", async () => {
    assert.equal((await hostExecutor.run("false", [], { allowFailure: true })).code, 1);
  });
  it("kills a program at its timeout and marks it retryable", async () => {
    const started = Date.now();
    await assert.rejects(
      hostExecutor.run("sleep", ["5"], { timeoutMs: 100 }),
      (e: unknown) => e instanceof HostCommandError && e.timedOut && e.retryable && e.exitCode === -1,
    );
    assert.ok(Date.now() - started < 2000);
  });
  it("reports a missing program as not retryable", async () => {
    await assert.rejects(
      hostExecutor.run("vmnt-no-such-program", []),
      (e: unknown) => e instanceof HostCommandError && e.exitCode === -1 && !e.retryable,
    );
  });
  it("gives the program exactly the env it is given, still found on vmnet's PATH", async () => {
    const r = await hostExecutor.run("env", [], { env: { CNI_COMMAND: "ADD", CNI_IFNAME: "eth0" } });
    assert.deepEqual(
      r.stdout
        .split("\n")
        .filter((l) => l !== "")
        .sort(),
      ["CNI_COMMAND=ADD", "CNI_IFNAME=eth0"],
    );
  });
  it("gives an empty environment for an empty env", async () => {
    assert.equal((await hostExecutor.run("env", [], { env: {} })).stdout, "");
  });
  it("inherits vmnet's environment without env", async () => {
    const r = await hostExecutor.run("env", []);
    assert.ok(r.stdout.split("\n").includes(`PATH=${process.env.PATH ?? ""}`));
  });
  it("reports a missing program as such with an env", async () => {
    await assert.rejects(
      hostExecutor.run("vmnt-no-such-program", [], { env: {} }),
      (e: unknown) => e instanceof HostCommandError && e.exitCode === -1 && !e.retryable,
    );
  });
  it("passes the env through ip netns exec", { skip: kernelSkipReason() }, async () => {
    await withNetns(1, async ([ns = ""]) => {
      const r = await hostExecutor.run("env", [], { netns: ns, env: { CNI_NETNS: `/run/netns/${ns}` } });
      assert.deepEqual(
        r.stdout.split("\n").filter((l) => l !== ""),
        [`CNI_NETNS=/run/netns/${ns}`],
      );
    });
  });
  it("commandLine prefixes ip netns exec", () => {
    assert.deepEqual(commandLine("nft", ["list", "ruleset"], "vmnt-a1"), [
      "ip",
      "netns",
      "exec",
      "vmnt-a1",
      "nft",
      "list",
      "ruleset",
    ]);
    assert.deepEqual(commandLine("nft", ["list"]), ["nft", "list"]);
  });
  for (const bad of ["", "a/b", "..", "x y"]) {
    it(`rejects the namespace name "${bad}"`, () => assert.throws(() => commandLine("ip", [], bad), RangeError));
  }
  it("RecordingExecutor records each spawn", async () => {
    const rec = new RecordingExecutor();
    await rec.run("true", ["x"]);
    assert.deepEqual(rec.calls, [{ program: "true", args: ["x"], options: {} }]);
  });
});

describe("IPv6 text form (RFC 5952 section 4 examples)", () => {
  const vectors: { input: string; canonical: string }[] = [
    { input: "2001:db8:0:0:1:0:0:1", canonical: "2001:db8::1:0:0:1" },
    { input: "2001:0db8::0001", canonical: "2001:db8::1" },
    { input: "2001:db8::0:1", canonical: "2001:db8::1" },
    { input: "2001:db8:0:1:1:1:1:1", canonical: "2001:db8:0:1:1:1:1:1" },
    { input: "2001:0:0:1:0:0:0:1", canonical: "2001:0:0:1::1" },
    { input: "2001:DB8::1", canonical: "2001:db8::1" },
    { input: "::", canonical: "::" },
    { input: "ff02::1:2", canonical: "ff02::1:2" },
  ];
  for (const v of vectors) {
    it(`"${v.input}" formats as "${v.canonical}"`, () => assert.equal(formatIpv6(parseIpv6(v.input)), v.canonical));
  }
  for (const bad of ["1::2::3", "1:2:3:4:5:6:7", "12345::", "g::1", "1:2:3:4:5:6:7:8:9"]) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseIpv6(bad), SyntaxError));
  }
});

describe("netns helpers", { skip: kernelSkipReason() }, () => {
  it("create, list and delete a namespace", async () => {
    const name = uniqueNetnsName();
    await createNetns(name);
    try {
      assert.ok((await listNetns()).includes(name));
      assert.equal(netnsPath(name), `/run/netns/${name}`);
      const lo = (await new IprouteNetlink(name).links()).find((l) => l.name === "lo");
      assert.ok(lo?.flags.includes("UP"));
    } finally {
      await deleteNetns(name);
    }
    assert.ok(!(await listNetns()).includes(name));
  });

  it("a veth pair spans two namespaces and a link moves between them", async () => {
    await withNetns(2, async ([a = "", b = ""]) => {
      await addVethPair({ name: "va", netns: a }, { name: "vb", netns: b });
      assert.ok((await new IprouteNetlink(a).links()).some((l) => l.name === "va" && l.kind === "veth"));
      assert.ok((await new IprouteNetlink(b).links()).some((l) => l.name === "vb" && l.kind === "veth"));
      await moveLink("vb", { from: b, to: a, newName: "vb2" });
      assert.ok((await new IprouteNetlink(a).links()).some((l) => l.name === "vb2"));
      assert.ok(!(await new IprouteNetlink(b).links()).some((l) => l.name === "vb"));
    });
  });

  it("withNetns deletes its namespaces when the body throws", async () => {
    let names: string[] = [];
    await assert.rejects(
      withNetns(2, async (n) => {
        names = n;
        throw new Error("body failed");
      }),
      /body failed/,
    );
    const left = await listNetns();
    assert.equal(names.length, 2);
    for (const n of names) assert.ok(!left.includes(n));
  });

  it("dummy links work where the kernel has the dummy driver", async (t) => {
    await withNetns(1, async ([ns = ""]) => {
      const nl = new IprouteNetlink(ns);
      try {
        await nl.batch([{ op: "addDummy", name: "eth0" }]);
      } catch (e) {
        // Some VM kernels (this lab's among them) are built without CONFIG_DUMMY.
        if (e instanceof NetlinkBatchError && e.reason === "notSupported") {
          t.skip("kernel has no dummy link driver");
          return;
        }
        throw e;
      }
      assert.ok((await nl.links()).some((l) => l.name === "eth0" && l.kind === "dummy"));
    });
  });
});
