/**
 * The `vmnet` command: dispatches to one module per command and maps failures to exit codes (0 allowed, 1 denied,
 * 2 unreadable input or bad usage). Errors are one clear line on stderr, never a stack trace.
 */
import { runAgentCommand } from "./agent.ts";
import { UsageError } from "./args.ts";
import { runDefault } from "./default.ts";
import { runDown } from "./down.ts";
import { runExec } from "./exec.ts";
import { InputError } from "./input.ts";
import { runLab } from "./lab.ts";
import { runLink } from "./link.ts";
import { runList } from "./list.ts";
import { runStatus } from "./status.ts";
import type { Command, CommandIo } from "./types.ts";
import { runUp } from "./up.ts";
import { runUpdate } from "./update.ts";
import { runValidate } from "./validate.ts";

/** The usage text. */
export const USAGE = `Usage: vmnet <command> [flags] FILE|-

Commands:
  validate   Admit the VMs/VMIs of FILE (KubeVirt kubevirt.io/v1 or Virtink v1alpha1) as the webhooks
             would, plus vmnet's own checks
  default    Print the VMs/VMIs of FILE with the mutating webhook's defaults applied
  lab        Create or destroy the lab (a node namespace, its pod network, a "client" pod), or run in a pod
  up         Admit, plan, wire and boot a VM under QEMU in the lab
  update     Apply a changed spec to a running VM: NIC hotplug, state: absent unplug, link state
  down       Remove a VM (QEMU, DHCP, pod network, pod, state)
  status     Print a VM's status.interfaces as KubeVirt reports it
  exec       Run a command in a VM's guest through the guest agent
  link       Set a VM interface's link up or down while it runs
  list       List the VMs
  help       Show this help

vmnet validate [-o text|json|yaml] [--kubevirt-config FILE] [--nad FILE]... [--old FILE]
               [--strict] [--pod-cidr CIDR]... FILE|-
  FILE may also hold the KubeVirt CR and NetworkAttachmentDefinitions; --kubevirt-config and --nad
  are alternatives. --old gives the stored object (an UPDATE). --strict turns vmnet's own warnings
  into denial causes. --pod-cidr replaces the pod network CIDRs vmnet checks overlaps against
  (default 10.244.0.0/16 and fd00:10:244::/56).

vmnet default [-o yaml|json] [--kubevirt-config FILE] [--old FILE] FILE|-

vmnet lab create [--ip-family ipv4|ipv6|dual] | lab destroy | lab exec POD -- CMD...
vmnet up -f VM.yaml [--nad FILE]... [--kubevirt-config FILE] [--ip-family ipv4|ipv6|dual] [--accel auto|tcg|kvm]
vmnet update -f VM.yaml [--nad FILE]... [--kubevirt-config FILE]
  Hot-plugs new bridge interfaces on secondary Multus networks, unplugs those set to state: absent and sets
  state: up/down; any other change needs a restart and is refused, naming the fields.
vmnet down NAME | status NAME [-o yaml|json] | exec NAME -- CMD... | link NAME IFACE up|down | list [-o text|json]
  Lab and VM commands take --state-dir DIR (default $VMNET_STATE_DIR, else /run/vmnet); they exit 1 on failure,
  and exec exits with the guest command's code.

Exit codes: 0 allowed, 1 denied (or defaulting refused), 2 unreadable input or bad usage.
`;

/** A command that works asynchronously (the lab and VM commands). */
type AsyncCommand = (argv: readonly string[], io: CommandIo) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command | AsyncCommand>> = {
  agent: runAgentCommand,
  validate: runValidate,
  default: runDefault,
  lab: runLab,
  up: runUp,
  update: runUpdate,
  down: runDown,
  status: runStatus,
  exec: runExec,
  link: runLink,
  list: runList,
};

/** Runs vmnet with `argv` (without node and script); returns the exit code (a promise of it for async commands). */
export function main(argv: readonly string[], io: CommandIo): number | Promise<number> {
  const [name, ...rest] = argv;
  // Asking for help is a success and goes to stdout; a missing command is a usage error.
  if (name === "help" || name === "--help" || name === "-h") {
    io.stdout(USAGE);
    return 0;
  }
  if (name === undefined) {
    io.stderr(USAGE);
    return 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`vmnet: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  // Whatever follows "--" is a command for a pod or guest (`vmnet exec vm -- ls -h`), not vmnet's.
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (own.includes("--help") || own.includes("-h")) {
    io.stdout(USAGE);
    return 0;
  }
  try {
    const code = command(rest, io);
    return typeof code === "number" ? code : code.catch((e: unknown) => failure(name, e, io));
  } catch (e) {
    return failure(name, e, io);
  }
}

function failure(name: string, e: unknown, io: CommandIo): number {
  if (e instanceof UsageError) {
    io.stderr(`vmnet ${name}: ${e.message}\nRun "vmnet help" for usage.\n`);
    return 2;
  }
  if (e instanceof InputError) {
    io.stderr(`vmnet ${name}: ${e.message}\n`);
    return 2;
  }
  io.stderr(`vmnet ${name}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  return 2;
}

const io: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};
void Promise.resolve(main(process.argv.slice(2), io)).then((code) => {
  process.exitCode = code;
});
