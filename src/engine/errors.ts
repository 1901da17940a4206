// Errors the engine reports, each carrying the exit status docker gives for it:
// 125 the engine itself failed (bad flag, unknown image, name in use…), 126 the command exists
// but cannot be invoked, 127 the command was not found in the image.
export const EXIT_ENGINE = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;

export class EngineError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_ENGINE) {
    super(message);
    this.name = "EngineError";
  }
}

/** A container or volume the user named does not exist. */
export class NotFoundError extends EngineError {
  constructor(what: string, ref: string) {
    super(`no such ${what}: ${ref}`);
    this.name = "NotFoundError";
  }
}

/** Bad flag value or combination: the user can fix it by changing the command line. */
export class UsageError extends EngineError {}

/** The runtime could not start the command. `status` is the runtime's (127 missing, 126 cannot
 *  run), decided once in the C core from errno (native/command-status.h): never from the words. */
export function commandFailure(message: string, status: typeof EXIT_CANNOT_INVOKE | typeof EXIT_NOT_FOUND): EngineError {
  return new EngineError(`OCI runtime create failed: ${message}`, status);
}
