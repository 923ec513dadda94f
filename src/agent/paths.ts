/**
 * The files of an agent's state directory. Shared by the agent and its clients, which find each other only through
 * these paths.
 */
import { resolve } from "node:path";

/** The state directory when none is given: runtime state, gone after a reboot like the pods' namespaces. */
export const DEFAULT_STATE_DIR = "/run/vmnet";

/** Longest unix socket path the kernel takes (`sun_path` is 108 bytes, NUL included). */
const SUN_PATH_MAX = 107;

/** Where an agent keeps its socket, pidfile, pod record and log. */
export interface AgentPaths {
  readonly stateDir: string;
  /** The control socket (mode 0600). */
  readonly socket: string;
  /** The flock-ed pidfile; one agent per state directory. */
  readonly pidfile: string;
  /** The served pods, re-adopted by a restarted agent. */
  readonly record: string;
  /** The spawned agent's stdout and stderr. */
  readonly log: string;
}

/** The paths of the agent of `stateDir` (made absolute); throws RangeError when the socket path is too long. */
export function agentPaths(stateDir: string): AgentPaths {
  const dir = resolve(stateDir);
  const socket = `${dir}/agent.sock`;
  if (Buffer.byteLength(socket) > SUN_PATH_MAX) {
    throw new RangeError(`Cannot use state directory "${dir}": the socket path is longer than ${SUN_PATH_MAX} bytes`);
  }
  return {
    stateDir: dir,
    socket,
    pidfile: `${dir}/agent.pid`,
    record: `${dir}/agent-pods.json`,
    log: `${dir}/agent.log`,
  };
}
