// Where a build's progress goes: the step lines, the RUN steps' own output, warnings.
export interface BuildOutput {
  /** Step lines ("Step 1/5 : FROM busybox", " ---> Using cache"). */
  out(text: string): void;
  /** Notes and warnings. */
  err(text: string): void;
  /** A RUN step's own output, as it comes. */
  runOutput(stream: "stdout" | "stderr", data: Uint8Array): void;
}
