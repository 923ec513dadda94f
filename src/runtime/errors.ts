/** The runtime's domain error: callers branch on `code` and on whether the pod was left clean. */

/** Stable codes of runtime failures. */
export const RuntimeErrorCode = {
  /** A link with a planned name exists with another kind (KubeVirt's `type collision on link`). */
  TypeCollision: "type_collision",
  /** The pod link a plan step changes is gone (`pod link (%s) is missing`). */
  PodLinkMissing: "pod_link_missing",
  /** A step of apply failed; what this call did was rolled back. */
  ApplyFailed: "apply_failed",
  /** A step of apply failed and the rollback failed too: the pod may be half-built. */
  RollbackFailed: "rollback_failed",
  /** Teardown could not finish. */
  TeardownFailed: "teardown_failed",
  /** The pod's resolv.conf or hostname could not be read. */
  PodFilesUnreadable: "pod_files_unreadable",
} as const;
export type RuntimeErrorCode = (typeof RuntimeErrorCode)[keyof typeof RuntimeErrorCode];

/** Apply steps, in the order they run; named in errors and in tests that inject failures. */
export const ApplyStep = {
  State: "state",
  Links: "links",
  Sysctls: "sysctls",
  Nftables: "nftables",
} as const;
export type ApplyStep = (typeof ApplyStep)[keyof typeof ApplyStep];

/** A runtime operation failed. */
export class RuntimeError extends Error {
  override readonly name = "RuntimeError";
  readonly code: RuntimeErrorCode;
  /** The apply step that failed, for `apply_failed` and `rollback_failed`. */
  readonly step: ApplyStep | undefined;
  /** Whether running the same operation again can help (the cause was a busy kernel object or a timeout). */
  readonly retryable: boolean;
  /** For `rollback_failed`: why the rollback failed (`cause` is the original failure). */
  readonly rollbackError: unknown;

  constructor(
    code: RuntimeErrorCode,
    message: string,
    options: {
      readonly cause?: unknown;
      readonly step?: ApplyStep;
      readonly rollbackError?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.step = options.step;
    this.rollbackError = options.rollbackError;
    const c = options.cause;
    this.retryable =
      code !== RuntimeErrorCode.RollbackFailed &&
      typeof c === "object" &&
      c !== null &&
      "retryable" in c &&
      c.retryable === true;
  }
}
