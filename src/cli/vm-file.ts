/**
 * The VM-file part `vmnet up` and `vmnet update` share: `-f VM.yaml` (or one positional file), `--nad FILE`...,
 * `--kubevirt-config FILE`, and admitting the file exactly as `vmnet validate` does, with warnings on stderr.
 */
import type { VmSpec } from "../vm/spec.ts";
import { FlagKind, type FlagSpec, type ParsedArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** The flags that name a VM file and what admits it. */
export const VM_FILE_FLAGS: readonly FlagSpec[] = [
  { long: "file", short: "f", kind: FlagKind.Value },
  { long: "nad", kind: FlagKind.Repeated },
  { long: "kubevirt-config", kind: FlagKind.Value },
];

/** The VM file of `vmnet <command>`; UsageError when none or more than one is given. */
export function vmFileOf(args: ParsedArgs, command: string): string {
  const file = args.values.get("file") ?? args.positionals[0];
  if (file === undefined) throw new UsageError(`"vmnet ${command}" needs -f VM.yaml`);
  if (args.positionals.length > (args.values.has("file") ? 0 : 1)) {
    throw new UsageError(`"vmnet ${command}" takes one VM file`);
  }
  return file;
}

/** Admits the VM file (with its NADs and KubeVirt CR), printing warnings and the `admitted:` line. */
export async function admitVmFile(args: ParsedArgs, file: string, io: CommandIo): Promise<VmSpec> {
  const { loadVmSpec } = await import("../vm/spec.ts");
  const kubevirtConfig = args.values.get("kubevirt-config");
  const spec = loadVmSpec(file, {
    nads: args.repeated.get("nad") ?? [],
    ...(kubevirtConfig === undefined ? {} : { kubevirtConfig }),
  });
  for (const w of spec.warnings) io.stderr(`Warning: ${w}\n`);
  io.stdout(`admitted: ${spec.model.dialect} VM "${spec.model.namespace}/${spec.model.name}"\n`);
  return spec;
}
