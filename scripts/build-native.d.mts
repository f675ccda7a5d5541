// Types of the helpers scripts/build-native.mjs exports (for tests and scripts/prebuild.mjs).
/** Directory holding include/node/node_api.h for the running node (nodedir), or null. */
export function nodeDir(): string | null;
/** node-gyp's script: the installed package, else the copy bundled with npm; or null. */
export function nodeGypScript(): string | null;
