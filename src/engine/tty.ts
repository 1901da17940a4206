// Whether an fd is a terminal, without touching process.stdout: its getter builds a Node
// WriteStream (the whole stream library, ~20 ms of start-up) just to answer isTTY.
import { dlopen, FFIType } from "bun:ffi";

let isatty: ((fd: number) => number) | undefined;

export function isTerminal(fd: number): boolean {
  isatty ??= dlopen("libc.so.6", { isatty: { args: [FFIType.i32], returns: FFIType.i32 } }).symbols.isatty;
  return isatty(fd) === 1;
}
