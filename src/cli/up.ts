/**
 * `vmnet up -f VM.yaml [--nad FILE]... [--kubevirt-config FILE] [--ip-family F] [--accel auto|tcg|kvm]`: admits,
 * plans, creates the pod, applies and boots, one progress line per step, and says how to reach the VM.
 */
import { Accel } from "../hypervisor/accel.ts";
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import type { IpFamily } from "../vm/paths.ts";
import { FlagKind, parseArgs } from "./args.ts";
import { IP_FAMILY_FLAG } from "./lab.ts";
import type { CommandIo } from "./types.ts";
import { admitVmFile, VM_FILE_FLAGS, vmFileOf } from "./vm-file.ts";

/** Runs `vmnet up`. */
export function runUp(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [
    STATE_DIR_FLAG,
    IP_FAMILY_FLAG,
    ...VM_FILE_FLAGS,
    { long: "accel", kind: FlagKind.Value, choices: ["auto", ...Object.values(Accel)] },
  ]);
  const file = vmFileOf(args, "up");
  return runVmCommand("up", io, async () => {
    const { upVm } = await import("../vm/lifecycle.ts");
    const spec = await admitVmFile(args, file, io);
    const name = spec.model.name;
    // Ctrl-C (or SIGTERM) stops at the next step and removes what was made, instead of leaving it to "vmnet down".
    const controller = new AbortController();
    const interrupted = new Error("Interrupted");
    const onSignal = () => controller.abort(interrupted);
    // Listening (not once): a repeated signal must not kill the process halfway through its cleanup.
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let record: Awaited<ReturnType<typeof upVm>>["record"];
    try {
      ({ record } = await upVm(statePathsOf(args.values), spec, {
        ...(args.values.has("ip-family") ? { ipFamily: args.values.get("ip-family") as IpFamily } : {}),
        accel: (args.values.get("accel") ?? "auto") as Accel | "auto",
        progress: (line) => io.stdout(`${line}\n`),
        signal: controller.signal,
      }));
    } catch (e) {
      // The abort may surface wrapped (a wiring step's rollback error names it as its cause).
      if (!controller.signal.aborted) throw e;
      io.stderr(`vmnet up: interrupted; what was made is removed\n`);
      return 130;
    } finally {
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    }
    const state = args.values.get("state-dir");
    // The flag goes after the (sub)command; whatever follows "--" is the pod's or guest's.
    const vmnet = (command: string) => `vmnet ${command}${state === undefined ? "" : ` --state-dir ${state}`}`;
    io.stdout(`VM "${name}" is running in pod "${record.pod}" (${record.podIPs.join(", ") || "no pod IP"})\n`);
    const ip = record.podIPs[0];
    if (ip !== undefined) {
      const host = ip.includes(":") ? `[${ip}]` : ip;
      io.stdout(`  reach it from the client pod: ${vmnet("lab exec")} client -- wget -qO- http://${host}/\n`);
    }
    io.stdout(`  run a command in the guest:   ${vmnet("exec")} ${name} -- ip addr\n`);
    io.stdout(`  interfaces:                   ${vmnet("status")} ${name}\n`);
    io.stdout(`  remove it:                    ${vmnet("down")} ${name}\n`);
    return 0;
  });
}
