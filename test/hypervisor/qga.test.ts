import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { GuestAgent, GuestAgentError, GuestAgentErrorCode, qemuGuestAgentArgs } from "../../src/hypervisor/qga.ts";

interface FakeAgentOptions {
  /** Commands whose answer is held back by this many ms. */
  readonly delay?: Readonly<Record<string, number>>;
  /** Bytes sent as soon as a client connects (left over from an earlier session). */
  readonly leftover?: Buffer;
  /** Stay silent until this many sync requests have arrived (an agent not yet running). */
  readonly ignoreSyncs?: number;
}

interface FakeProcess {
  polls: number;
  readonly out: string;
  readonly err: string;
  readonly exitcode: number;
}

/**
 * A fake qemu-ga on a unix socket, speaking the agent protocol: a 0xFF byte resets its parser, guest-sync-delimited
 * answers 0xFF plus the id, answers carry no id, and unknown commands get CommandNotFound.
 */
async function withFakeAgent<T>(opts: FakeAgentOptions, fn: (path: string, log: string[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-qga-"));
  const path = join(dir, "qga.sock");
  const log: string[] = [];
  const procs = new Map<number, FakeProcess>();
  const files = new Map<number, { data: Buffer; offset: number }>();
  let syncs = 0;
  const answer = (s: Socket, cmd: string, m: unknown, prefix = Buffer.alloc(0)) => {
    const write = () => s.write(Buffer.concat([prefix, Buffer.from(`${JSON.stringify(m)}\n`)]));
    const d = opts.delay?.[cmd];
    if (d === undefined) write();
    else setTimeout(write, d);
  };
  const handle = (s: Socket, text: string) => {
    const req = JSON.parse(text) as { execute: string; arguments?: Record<string, unknown> };
    log.push(req.execute);
    const a = req.arguments ?? {};
    switch (req.execute) {
      case "guest-sync-delimited":
        syncs++;
        if (syncs <= (opts.ignoreSyncs ?? 0)) return;
        answer(s, req.execute, { return: a.id }, Buffer.from([0xff]));
        return;
      case "guest-ping":
        answer(s, req.execute, { return: {} });
        return;
      case "guest-network-get-interfaces":
        answer(s, req.execute, {
          return: [
            {
              name: "lo",
              "hardware-address": "00:00:00:00:00:00",
              "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 }],
            },
            {
              name: "eth0",
              "hardware-address": "02:00:00:AA:BB:CC",
              "ip-addresses": [
                { "ip-address-type": "ipv4", "ip-address": "10.0.2.2", prefix: 24 },
                { "ip-address-type": "ipv6", "ip-address": "fd10:0:2::2", prefix: 120 },
              ],
              statistics: { "rx-bytes": 1 },
            },
            { name: "dummy0" },
          ],
        });
        return;
      case "guest-exec": {
        const pid = 1000 + procs.size;
        const input = typeof a["input-data"] === "string" ? Buffer.from(a["input-data"], "base64").toString() : "";
        const args = (a.arg as string[]).join(" ");
        procs.set(pid, {
          polls: 0,
          out: `${a.path} ${args}\n${input}`,
          err: "warn\n",
          exitcode: a.path === "/bin/false" ? 1 : 0,
        });
        answer(s, req.execute, { return: { pid } });
        return;
      }
      case "guest-exec-status": {
        const p = procs.get(a.pid as number);
        if (!p) {
          answer(s, req.execute, { error: { class: "GenericError", desc: `Invalid parameter 'pid'` } });
          return;
        }
        p.polls++;
        if (p.polls < 3) answer(s, req.execute, { return: { exited: false } });
        else
          answer(s, req.execute, {
            return: {
              exited: true,
              exitcode: p.exitcode,
              "out-data": Buffer.from(p.out).toString("base64"),
              "err-data": Buffer.from(p.err).toString("base64"),
            },
          });
        return;
      }
      case "guest-file-open":
        if (a.path !== "/etc/hostname") {
          answer(s, req.execute, { error: { class: "GenericError", desc: `failed to open file '${a.path}'` } });
          return;
        }
        files.set(7, { data: Buffer.from("x".repeat(70_000)), offset: 0 });
        answer(s, req.execute, { return: 7 });
        return;
      case "guest-file-read": {
        const f = files.get(a.handle as number);
        if (!f) return;
        const chunk = f.data.subarray(f.offset, f.offset + (a.count as number));
        f.offset += chunk.length;
        answer(s, req.execute, {
          return: { count: chunk.length, "buf-b64": chunk.toString("base64"), eof: f.offset >= f.data.length },
        });
        return;
      }
      case "guest-file-close":
        files.delete(a.handle as number);
        answer(s, req.execute, { return: {} });
        return;
      default:
        answer(s, req.execute, {
          error: { class: "CommandNotFound", desc: `The command ${req.execute} has not been found` },
        });
    }
  };
  const server = createServer((s) => {
    if (opts.leftover) s.write(opts.leftover);
    let buf = Buffer.alloc(0);
    s.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // qemu-ga's JSON lexer resets on 0xFF, dropping a half-read request.
      const ff = buf.lastIndexOf(0xff);
      if (ff >= 0) buf = buf.subarray(ff + 1);
      for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
        const line = buf.subarray(0, nl).toString();
        buf = buf.subarray(nl + 1);
        if (line.trim() !== "") handle(s, line);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    return await fn(path, log);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("GuestAgent against a fake agent", () => {
  it("GuestAgent handshakes with guest-sync-delimited before the first command and skips leftover bytes", async () => {
    await withFakeAgent({ leftover: Buffer.from('{"return": {"stale": true}}\n{"retu') }, async (path, log) => {
      const ga = await GuestAgent.connect(path);
      await ga.ping();
      assert.deepEqual(log, ["guest-sync-delimited", "guest-ping"]);
      ga.close();
    });
  });

  it("GuestAgent.networkGetInterfaces maps names, lowercase MACs and addresses", async () => {
    await withFakeAgent({}, async (path) => {
      const ga = await GuestAgent.connect(path);
      const ifaces = await ga.networkGetInterfaces();
      assert.deepEqual(ifaces, [
        {
          name: "lo",
          hardwareAddress: "00:00:00:00:00:00",
          ipAddresses: [{ type: "ipv4", address: "127.0.0.1", prefix: 8 }],
        },
        {
          name: "eth0",
          hardwareAddress: "02:00:00:aa:bb:cc",
          ipAddresses: [
            { type: "ipv4", address: "10.0.2.2", prefix: 24 },
            { type: "ipv6", address: "fd10:0:2::2", prefix: 120 },
          ],
        },
        { name: "dummy0", ipAddresses: [] },
      ]);
      ga.close();
    });
  });

  it("GuestAgent.exec polls guest-exec-status and decodes base64 output", async () => {
    await withFakeAgent({}, async (path, log) => {
      const ga = await GuestAgent.connect(path);
      const r = await ga.exec("/bin/echo", ["hello", "world"], { input: "stdin text", pollIntervalMs: 5 });
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout.toString(), "/bin/echo hello world\nstdin text");
      assert.equal(r.stderr.toString(), "warn\n");
      assert.equal(r.stdoutTruncated, false);
      assert.equal(log.filter((c) => c === "guest-exec-status").length, 3);
      const f = await ga.exec("/bin/false", [], { pollIntervalMs: 5 });
      assert.equal(f.exitCode, 1);
      ga.close();
    });
  });

  it("GuestAgent.readFile reads past one 64 KiB chunk and closes the handle", async () => {
    await withFakeAgent({}, async (path, log) => {
      const ga = await GuestAgent.connect(path);
      const data = await ga.readFile("/etc/hostname");
      assert.equal(data.length, 70_000);
      assert.deepEqual(log.slice(1), ["guest-file-open", "guest-file-read", "guest-file-read", "guest-file-close"]);
      await assert.rejects(
        ga.readFile("/etc/hostname", { maxBytes: 100 }),
        (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Protocol,
      );
      assert.equal(log.at(-1), "guest-file-close");
      await assert.rejects(
        ga.readFile("/nope"),
        (e: unknown) => e instanceof GuestAgentError && e.errorClass === "GenericError",
      );
      ga.close();
    });
  });

  it("qemuGuestAgentArgs wires a chardev socket to the org.qemu.guest_agent.0 port", () => {
    assert.deepEqual(qemuGuestAgentArgs("/run/vm,1/qga.sock"), [
      "-chardev",
      "socket,id=qga0,path=/run/vm,,1/qga.sock,server=on,wait=off",
      "-device",
      "virtio-serial-pci,id=qga0-serial",
      "-device",
      "virtserialport,bus=qga0-serial.0,chardev=qga0,name=org.qemu.guest_agent.0",
    ]);
  });

  it("GuestAgent.exec gives up with a timeout while the process runs", async () => {
    await withFakeAgent({}, async (path) => {
      const ga = await GuestAgent.connect(path);
      await assert.rejects(
        ga.exec("/bin/sleep", ["9"], { pollIntervalMs: 50, timeoutMs: 1 }),
        (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Timeout,
      );
      ga.close();
    });
  });

  it("GuestAgent.execute rejects with the agent's error class and desc", async () => {
    await withFakeAgent({}, async (path) => {
      const ga = await GuestAgent.connect(path);
      await assert.rejects(ga.execute("guest-nope"), (e: unknown) => {
        assert.ok(e instanceof GuestAgentError);
        assert.equal(e.code, GuestAgentErrorCode.CommandFailed);
        assert.equal(e.errorClass, "CommandNotFound");
        assert.equal(e.desc, "The command guest-nope has not been found");
        assert.equal(e.retryable, false);
        return true;
      });
      await ga.ping();
      ga.close();
    });
  });

  it("GuestAgent re-syncs after a timeout so the late answer is not taken for the next one", async () => {
    await withFakeAgent({ delay: { "guest-network-get-interfaces": 150 } }, async (path, log) => {
      const ga = await GuestAgent.connect(path, { commandTimeoutMs: 50 });
      await assert.rejects(
        ga.networkGetInterfaces(),
        (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Timeout && e.retryable,
      );
      await new Promise((r) => setTimeout(r, 200));
      // The interface list arrived late and unread; a ping must not resolve with it.
      const r = await ga.execute("guest-ping", undefined, { timeoutMs: 500 });
      assert.deepEqual(r, {});
      assert.deepEqual(log, [
        "guest-sync-delimited",
        "guest-network-get-interfaces",
        "guest-sync-delimited",
        "guest-ping",
      ]);
      ga.close();
    });
  });

  it("GuestAgent.waitUntilReady retries the handshake until the agent answers", async () => {
    await withFakeAgent({ ignoreSyncs: 2 }, async (path, log) => {
      const ga = await GuestAgent.connect(path);
      await ga.waitUntilReady({ timeoutMs: 2000, attemptMs: 40 });
      assert.equal(log.filter((c) => c === "guest-sync-delimited").length, 3);
      await ga.ping();
      ga.close();
    });
  });

  it("GuestAgent.waitUntilReady times out when no agent answers", async () => {
    await withFakeAgent({ ignoreSyncs: 1000 }, async (path) => {
      const ga = await GuestAgent.connect(path);
      await assert.rejects(
        ga.waitUntilReady({ timeoutMs: 120, attemptMs: 40 }),
        (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Timeout,
      );
      ga.close();
    });
  });

  it("GuestAgent rejects with closed when the channel goes away", async () => {
    await withFakeAgent({ ignoreSyncs: 1000 }, async (path) => {
      const ga = await GuestAgent.connect(path);
      const pending = ga.ping({ timeoutMs: 5000 });
      ga.close();
      await assert.rejects(
        pending,
        (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Closed,
      );
    });
  });

  it("GuestAgent.connect fails with closed when no socket appears", async () => {
    await assert.rejects(
      GuestAgent.connect("/nonexistent/vmnt-qga.sock", { connectTimeoutMs: 100 }),
      (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Closed,
    );
  });
});
