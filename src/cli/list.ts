/** `vmnet list [-o text|json]`: the VMs of the state directory, their phase, pod IPs and accelerator. */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { FlagKind, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Runs `vmnet list`. */
export function runList(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [
    STATE_DIR_FLAG,
    { long: "output", short: "o", kind: FlagKind.Value, choices: ["text", "json"] },
  ]);
  if (args.positionals.length > 0) throw new UsageError(`"vmnet list" takes no arguments`);
  return runVmCommand("list", io, async () => {
    const { listVms } = await import("../vm/lifecycle.ts");
    const vms = await listVms(statePathsOf(args.values));
    if (args.values.get("output") === "json") {
      io.stdout(`${JSON.stringify(vms, null, 2)}\n`);
      return 0;
    }
    const rows = [
      ["NAME", "PHASE", "POD IPS", "ACCEL"],
      ...vms.map((v) => [v.name, v.phase, v.podIPs.join(",") || "-", v.accel ?? "-"]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
    for (const r of rows)
      io.stdout(
        `${r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd()}\n`,
      );
    return 0;
  });
}
