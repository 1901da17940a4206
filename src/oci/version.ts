// The runtime-spec version Berth writes and reports. Its own module so that reading it does not
// load the default spec (and with it the seccomp profile) on every command.
export const OCI_VERSION = "1.2.0";
