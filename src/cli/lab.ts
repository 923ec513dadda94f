/**
 * `vmnet lab create [--ip-family ipv4|ipv6|dual]`, `vmnet lab destroy`, `vmnet lab exec POD -- CMD...`: the lab node
 * with its cluster network and `client` pod (src/vm/lab.ts). `destroy` takes every VM down first.
 */

import { rmdir } from "node:fs/promises";
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { IpFamily } from "../vm/paths.ts";
import { FlagKind, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** `--ip-family`, shared with `vmnet up`. */
export const IP_FAMILY_FLAG = { long: "ip-family", kind: FlagKind.Value, choices: Object.values(IpFamily) } as const;

/** Runs `vmnet lab`. */
export function runLab(argv: readonly string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "create": {
      const args = parseArgs(rest, [STATE_DIR_FLAG, IP_FAMILY_FLAG]);
      if (args.positionals.length > 0) throw new UsageError(`"vmnet lab create" takes no arguments`);
      const family = (args.values.get("ip-family") ?? IpFamily.Ipv4) as IpFamily;
      return runVmCommand("lab create", io, async () => {
        const { ensureLab } = await import("../vm/lab.ts");
        const { lab, created } = await ensureLab(statePathsOf(args.values), family);
        const r = lab.record;
        const subnets = [r.ipv4Subnet, r.ipv6Subnet].filter((s) => s !== undefined).join(", ");
        io.stdout(
          `lab ${created ? "created" : "exists"}: node "${lab.node.name}", ${r.ipFamily} pod network ${subnets}\n`,
        );
        return 0;
      });
    }
    case "destroy": {
      const args = parseArgs(rest, [STATE_DIR_FLAG]);
      if (args.positionals.length > 0) throw new UsageError(`"vmnet lab destroy" takes no arguments`);
      return runVmCommand("lab destroy", io, async () => {
        const { destroyLab } = await import("../vm/lab.ts");
        const { downVm, listVms, stopAgent } = await import("../vm/lifecycle.ts");
        const paths = statePathsOf(args.values);
        for (const vm of await listVms(paths)) {
          await downVm(paths, vm.name);
          io.stdout(`vm "${vm.name}" removed\n`);
        }
        await stopAgent(paths);
        await destroyLab(paths);
        // The state directory itself goes when nothing else is in it.
        await rmdir(paths.root).catch(() => {});
        io.stdout(`lab destroyed\n`);
        return 0;
      });
    }
    case "exec": {
      const args = parseArgs(rest, [STATE_DIR_FLAG]);
      const [pod, ...command] = args.positionals;
      if (pod === undefined || command.length === 0) throw new UsageError(`"vmnet lab exec" needs POD -- CMD...`);
      return runVmCommand("lab exec", io, async () => {
        const { execInPod, loadLab } = await import("../vm/lab.ts");
        const lab = await loadLab(statePathsOf(args.values));
        if (lab === undefined) {
          io.stderr(`vmnet lab exec: no lab; run "vmnet lab create" first\n`);
          return 1;
        }
        return execInPod(lab, pod, command);
      });
    }
    default:
      throw new UsageError(
        sub === undefined ? `"vmnet lab" needs create, destroy or exec` : `Unknown lab command "${sub}"`,
      );
  }
}
