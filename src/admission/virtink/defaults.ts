/**
 * Virtink's mutating webhook (`MutateVM`, reference §1.4): MAC, binding and masquerade CIDR defaults per interface,
 * plus the non-network defaults (runPolicy, cpu topology, memory size) so that defaulted objects compare like
 * Virtink's.
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { formatMac } from "../../api/mac.ts";
import type { VkInterface, VkVirtualMachine } from "../../api/virtink-types.ts";
import { cloneJson, goString, isRecord, type JsonRecord, listOf, present } from "./json.ts";

/** The masquerade CIDR Virtink fills in when `masquerade.cidr` is empty. */
export const VIRTINK_DEFAULT_MASQUERADE_CIDR = "10.0.2.0/30";

/** The locally administered QEMU/KVM prefix of generated MACs. */
export const VIRTINK_MAC_PREFIX: readonly number[] = [0x52, 0x54, 0x00];

/** Options of {@link applyVirtinkDefaults}. */
export interface VirtinkDefaultsOptions {
  /** The stored object on UPDATE; its interfaces' MACs are carried over by name. */
  readonly old?: VkVirtualMachine;
  /** The random source for generated MACs (node:crypto by default). */
  readonly randomBytes?: (n: number) => Uint8Array;
}

const BINDING_METHODS = ["bridge", "masquerade", "sriov", "vdpa", "vhostUser"] as const;

/**
 * Applies Virtink's defaults to a copy of `vm` and returns it; `vm` itself is not changed. A user MAC is kept
 * verbatim. Throws `generate MAC: rand: …` when the random source fails, as Virtink answers HTTP 500 then.
 */
export function applyVirtinkDefaults(vm: VkVirtualMachine, options: VirtinkDefaultsOptions = {}): VkVirtualMachine {
  const out = cloneJson(vm);
  // Virtink's spec, instance, cpu and memory are Go value structs: they always exist after decoding.
  const spec: NonNullable<VkVirtualMachine["spec"]> = isRecord(out.spec) ? out.spec : {};
  out.spec = spec;
  if (goString(spec.runPolicy) === "") spec.runPolicy = "Once";
  const instance = isRecord(spec.instance) ? spec.instance : {};
  spec.instance = instance;
  const cpu = isRecord(instance.cpu) ? instance.cpu : {};
  instance.cpu = cpu;
  if (!cpu.sockets) cpu.sockets = 1;
  if (!cpu.coresPerSocket) cpu.coresPerSocket = 1;
  const memory = isRecord(instance.memory) ? instance.memory : {};
  instance.memory = memory;
  if (!present(memory.size)) memory.size = requestedMemory(spec.resources) ?? "1Gi";

  if (Array.isArray(instance.interfaces)) {
    const oldInterfaces = listOf(options.old?.spec?.instance?.interfaces).filter(isRecord);
    const random = options.randomBytes ?? ((n: number) => cryptoRandomBytes(n));
    instance.interfaces = instance.interfaces.map((iface) =>
      isRecord(iface) ? defaultInterface(iface, oldInterfaces, random) : iface,
    );
  }
  return out;
}

function defaultInterface(
  iface: VkInterface,
  oldInterfaces: readonly JsonRecord[],
  random: (n: number) => Uint8Array,
): VkInterface {
  let mac = goString(iface.mac);
  if (mac === "") {
    const name = goString(iface.name);
    // Only the first same-named old interface counts, even when its MAC is empty.
    const previous = oldInterfaces.find((o) => goString(o.name) === name);
    const previousMac = goString(previous?.mac);
    mac = previousMac !== "" ? previousMac : generateMac(random);
  }
  // Go serialises name and mac before the inlined binding methods; keep that key order.
  const { name, mac: _mac, ...rest } = iface;
  const out: VkInterface = name === undefined ? { mac, ...rest } : { name, mac, ...rest };
  if (!BINDING_METHODS.some((m) => present(out[m]))) out.bridge = {};
  if (isRecord(out.masquerade) && goString(out.masquerade.cidr) === "") {
    out.masquerade = { ...out.masquerade, cidr: VIRTINK_DEFAULT_MASQUERADE_CIDR };
  }
  return out;
}

function generateMac(random: (n: number) => Uint8Array): string {
  let tail: Uint8Array;
  try {
    tail = random(3);
  } catch (e) {
    throw new Error(`generate MAC: rand: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (tail.length < 3) throw new Error(`generate MAC: rand: short read of ${tail.length} bytes`);
  return formatMac(Uint8Array.from([...VIRTINK_MAC_PREFIX, ...tail.subarray(0, 3)]));
}

function requestedMemory(resources: unknown): string | undefined {
  if (!isRecord(resources) || !isRecord(resources.requests)) return undefined;
  const memory = resources.requests.memory;
  return typeof memory === "string" && memory !== "" ? memory : undefined;
}
