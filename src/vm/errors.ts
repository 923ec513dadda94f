/** The VM commands' own failures, kept apart so the CLI can tell them from internal errors without loading the rest. */

/** A VM command's failure the user can act on (unknown VM, VM exists, interface unknown). */
export class VmError extends Error {
  override readonly name = "VmError";
}

/** The VM was denied admission; the message is the webhook's. */
export class VmDeniedError extends Error {
  override readonly name = "VmDeniedError";
}
