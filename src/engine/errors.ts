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

/** The runtime could not start the command: 127 when it is missing, 126 otherwise, as docker does. */
export function commandFailure(message: string): EngineError {
  const notFound = /executable file not found|no such file or directory|not found/i.test(message) && !/permission denied/i.test(message);
  return new EngineError(`OCI runtime create failed: ${message}`, notFound ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE);
}

/** Whether a runtime error is about the container's command (as opposed to setup). */
export function isCommandError(message: string): boolean {
  return /^exec: |executable file not found in \$PATH|failed to start: .*(execve|exec format error|permission denied)/i.test(message);
}
