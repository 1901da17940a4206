// Facts about host processes: in src/sys/proc.ts (the storage layer needs them too, to tell a
// dead command's temporaries from a live one's); re-exported for the runtime and the engine.
export * from "../sys/proc.ts";
