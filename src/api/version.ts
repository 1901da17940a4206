// The engine version this service reports: the package's (the CLI's `berth version` says the same).
import pkg from "../../package.json" with { type: "json" };

export const ENGINE_VERSION: string = pkg.version;
