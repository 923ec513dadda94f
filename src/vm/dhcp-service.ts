/**
 * wirePod's DhcpService backed by one detached sidecar process per VM (src/vm/dhcp-sidecar.ts), so DHCP and RA keep
 * being served after `vmnet up` exits. The shared `vmnet agent` daemon is meant to replace it.
 */
import { rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DhcpInterfacePlan } from "../runtime/dhcp/config.ts";
import type { DhcpService } from "../runtime/wire.ts";
import type { SidecarConfig } from "./dhcp-sidecar.ts";
import type { VmPaths } from "./paths.ts";
import { readPid, spawnDetached, terminate, waitForPidFile } from "./process.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SIDECAR = join(HERE, "dhcp-sidecar.ts");
const TSX_LOADER = join(HERE, "..", "..", "node_modules", "tsx", "dist", "loader.mjs");

/** Serves one VM's pod from a detached sidecar whose pidfile, config and log live in the VM's state directory. */
export class SidecarDhcpService implements DhcpService {
  readonly #paths: VmPaths;

  constructor(paths: VmPaths) {
    this.#paths = paths;
  }

  get #readyFile(): string {
    return `${this.#paths.dhcpPid}.ready`;
  }

  async start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    const config: SidecarConfig = { podId, netns, interfaces };
    await writeFile(this.#paths.dhcpConfig, `${JSON.stringify(config)}\n`, { mode: 0o600 });
    await rm(this.#paths.dhcpPid, { force: true });
    await rm(this.#readyFile, { force: true });
    const child = await spawnDetached(
      [
        process.execPath,
        "--import",
        TSX_LOADER,
        "--no-warnings=ExperimentalWarning",
        SIDECAR,
        this.#paths.dhcpConfig,
        this.#readyFile,
      ],
      this.#paths.dhcpLog,
    );
    // The pid is recorded before the sidecar is ready, so `down` finds it even if this process dies right here.
    await writeFile(this.#paths.dhcpPid, `${child.pid}\n`);
    try {
      await waitForPidFile(this.#readyFile, child, {
        timeoutMs: 60_000,
        logFile: this.#paths.dhcpLog,
        what: "The DHCP sidecar",
      });
    } catch (e) {
      if (child.pid !== undefined) await terminate(child.pid, 1_000);
      throw e;
    }
  }

  async stop(_podId: string): Promise<void> {
    const pid = await readPid(this.#paths.dhcpPid);
    if (pid !== undefined) await terminate(pid);
    await rm(this.#paths.dhcpPid, { force: true });
    await rm(this.#readyFile, { force: true });
  }
}
