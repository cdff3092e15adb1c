/** The HTTP server of StrataDB: `serve()` to run it, `buildApp()` to embed or test it. */
export { serve } from './serve';
export type { ServeOptions, RunningServer } from './serve';
export { buildApp, API_VERSION } from './app';
export type { BuildAppOptions } from './app';
export { resolveServerSettings, SERVER_DEFAULTS, SERVER_ENV, isLoopback } from './settings';
export type { ServerSettings, LogLevel, SettingsSources } from './settings';
