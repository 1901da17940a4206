// berth-runtime's own version (`-v`, and the features' annotation). Its own module, as
// src/oci/version.ts, so that `-v` loads nothing else.
export const RUNTIME_VERSION = "0.1.0";
