/**
 * The per-VM DHCP/RA process `vmnet up` leaves running (until the shared `vmnet agent` daemon takes this over): it
 * serves one pod with the runtime's DhcpAgent, writes its ready file (its pid) once every socket is open, and stops
 * on SIGTERM.
 *
 * Run as `node --import tsx dhcp-sidecar.ts <config.json> <ready-file>`; the config is what {@link SidecarConfig} says.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { DhcpAgent } from "../runtime/dhcp/agent.ts";
import type { DhcpInterfacePlan } from "../runtime/dhcp/config.ts";
import { reviveInterfaceNames } from "./plan-file.ts";

/** The sidecar's input file. */
export interface SidecarConfig {
  readonly podId: string;
  readonly netns: string;
  /** The plan's DHCP/RA parts, as JSON (interface names are `{ value }` objects there). */
  readonly interfaces: readonly unknown[];
}

/** Parses a sidecar config, turning the serialised interface names back into {@link InterfaceName}s. */
export function parseSidecarConfig(text: string): {
  readonly podId: string;
  readonly netns: string;
  readonly interfaces: DhcpInterfacePlan[];
} {
  const parsed = JSON.parse(text, reviveInterfaceNames) as { podId?: unknown; netns?: unknown; interfaces?: unknown };
  if (typeof parsed.podId !== "string" || typeof parsed.netns !== "string" || !Array.isArray(parsed.interfaces)) {
    throw new SyntaxError("Cannot parse the DHCP sidecar config: expected podId, netns and interfaces");
  }
  return { podId: parsed.podId, netns: parsed.netns, interfaces: parsed.interfaces as DhcpInterfacePlan[] };
}

async function serve(configFile: string, readyFile: string): Promise<void> {
  const config = parseSidecarConfig(await readFile(configFile, "utf8"));
  const agent = new DhcpAgent({
    onEvent: (e) => {
      if (e.kind !== "ready") process.stderr.write(`${new Date().toISOString()} ${JSON.stringify(e)}\n`);
    },
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await agent.stopAll().catch((e: unknown) => process.stderr.write(`Cannot stop DHCP: ${String(e)}\n`));
    await rm(readyFile, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  await agent.start(config.podId, config.netns, config.interfaces);
  await writeFile(readyFile, `${process.pid}\n`);
  process.stderr.write(`${new Date().toISOString()} serving pod "${config.podId}" in netns "${config.netns}"\n`);
}

const [configFile, readyFile] = process.argv.slice(2);
if (configFile !== undefined && readyFile !== undefined && process.argv[1]?.endsWith("dhcp-sidecar.ts")) {
  serve(configFile, readyFile).catch((e: unknown) => {
    process.stderr.write(`DHCP sidecar failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
