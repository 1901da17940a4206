// The engine version this service reports: package.json's (as `berth version` says; src/ may
// not import files outside it, so it is written here too).
export const ENGINE_VERSION = "0.1.0";
