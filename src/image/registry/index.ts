// The registry client's surface: pull, push, login, tags, and the credentials file.
export { pullImage, listTags, type PullEvent, type PullOptions, type PullResult } from "./pull.ts";
export { pushImage, type PushOptions, type PushResult } from "./push.ts";
export { checkLogin, login, logout } from "./login.ts";
export { RegistryError } from "./client.ts";
export { configPath } from "./credentials.ts";
