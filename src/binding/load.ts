/**
 * Loads the native addon once. Never throws at import or call: returns `{ addon, error }`, where
 * `addon` is null when no binary could be loaded (not built, wrong platform, missing symbols) and
 * `error` says why. Search order: the binary node-gyp-build picks on the package root (the first of
 * build/Release/, build/Debug/, prebuilds/<platform>-<arch>/), then build/Release/kestrel.node and
 * prebuilds/<platform>-<arch>/kestrel.node directly, so that a broken local build (truncated, or
 * another architecture's in a copied node_modules) does not hide a working prebuilt binary. A truncated ELF binary
 * is skipped with its reason before it reaches the dynamic linker (which would kill the process
 * with SIGBUS; truncated-binary.ts). The environment variable KESTREL_NATIVE=0 disables the addon
 * (the library then uses the TypeScript surrogate). KESTREL_ISA=base|avx2|avx512 asks the addon
 * for a lower instruction set than the best the CPU supports (native/core/isa_dispatch.cc); a value
 * it cannot apply is ignored there, and warned about here (KESTREL_ISA_IGNORED) once it loads.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from '../errors.js';
import { warnOnce } from '../util/warn.js';
import { ADDON_FUNCTIONS, type AddonBuildInfo, type KestrelAddon } from './addon.js';
import { truncatedBinaryProblem } from './truncated-binary.js';

/** The instruction sets KESTREL_ISA may name, as native/core/isa_dispatch.cc spells them. */
const ISA_NAMES: readonly string[] = ['base', 'avx2', 'avx512'];

/**
 * Why KESTREL_ISA (`requested`; undefined or empty when unset) did not select the instruction set
 * the addon's kernels run (`chosen`, `buildInfo().isa`), or null when it did or is unset. The addon
 * ignores a name it does not know (matched exactly, lower case) and one this CPU or build lacks.
 */
export function isaRequestProblem(requested: string | undefined, chosen: string): string | null {
  if (requested === undefined || requested === '' || requested === chosen) return null;
  if (!ISA_NAMES.includes(requested)) {
    return `KESTREL_ISA=${JSON.stringify(requested)} is not one of ${ISA_NAMES.join(', ')} (lower case); the native kernels use ${chosen}`;
  }
  return `KESTREL_ISA=${requested}: this CPU (or this build of the addon) does not support it; the native kernels use ${chosen}`;
}

/** The loaded addon, after warning (once) when KESTREL_ISA asked for kernels it does not run. */
function loadedAddon(addon: KestrelAddon, root: string): AddonLoadResult {
  let chosen: string | null = null;
  try {
    chosen = addon.buildInfo().isa;
  } catch {
    // Loading never throws; an addon whose build info cannot be read is still the addon.
  }
  const problem = chosen === null ? null : isaRequestProblem(process.env.KESTREL_ISA, chosen);
  if (problem !== null) warnOnce('KESTREL_ISA_IGNORED', problem);
  return { addon, error: null, root };
}

export interface AddonLoadResult {
  readonly addon: KestrelAddon | null;
  /** Why the addon is unavailable (null when loaded). */
  readonly error: NativeError | null;
  /** The package root searched. */
  readonly root: string;
}

let cached: AddonLoadResult | null = null;

/** How a consumer gets the addon after an install that could not build it (scripts/build-native.mjs). */
const REBUILD_HINT = 'to build it, install a C++17 compiler with CMake (or Python, for node-gyp) and run `npm rebuild kestrel`';

/** The package root: the nearest ancestor of this file holding package.json (src/ or dist/src/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'scripts', 'native-sources.json'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function isAddon(value: unknown): value is KestrelAddon {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ADDON_FUNCTIONS.every((name) => typeof record[name] === 'function');
}

function attempt(): AddonLoadResult {
  const root = packageRoot();
  if (process.env.KESTREL_NATIVE === '0') {
    return { addon: null, error: new NativeError('native addon disabled by KESTREL_NATIVE=0'), root };
  }
  const require = createRequire(import.meta.url);
  const reasons: string[] = [];
  // Each binary is checked before `require`: a truncated one would kill the process with SIGBUS
  // inside the dynamic linker instead of throwing (truncated-binary.ts).
  let chosen: string | null = null;
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    const file = nodeGypBuild.resolve(root);
    chosen = file;
    const problem = truncatedBinaryProblem(file);
    if (problem !== null) {
      reasons.push(`node-gyp-build: ${problem}`);
    } else {
      const loaded: unknown = require(file);
      if (isAddon(loaded)) return loadedAddon(loaded, root);
      reasons.push('node-gyp-build: the module lacks the expected functions');
    }
  } catch (err) {
    reasons.push(`node-gyp-build: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  const direct = [
    path.join(root, 'build', 'Release', 'kestrel.node'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'kestrel.node'),
  ];
  for (const file of direct) {
    if (file === chosen || !existsSync(file)) continue; // already tried, or nothing to load
    try {
      const problem = truncatedBinaryProblem(file);
      if (problem !== null) {
        reasons.push(problem);
      } else {
        const loaded: unknown = require(file);
        if (isAddon(loaded)) return loadedAddon(loaded, root);
        reasons.push(`${file}: the module lacks the expected functions`);
      }
    } catch (err) {
      reasons.push(`${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  return { addon: null, error: new NativeError(`native addon not available (${reasons.join('; ')}); ${REBUILD_HINT}`), root };
}

/** Loads (once) and returns the addon or the reason it is unavailable. */
export function loadAddon(): AddonLoadResult {
  if (cached === null) cached = attempt();
  return cached;
}

/** How the native addon was built (ISA chosen at run time, CUDA), or why it is unavailable. */
export interface NativeStatus {
  readonly available: boolean;
  readonly buildInfo: AddonBuildInfo | null;
  /**
   * Whether the addon was built with CUDA and sees a device its kernels can run on (what backend
   * 'cuda' needs; a card whose compute capability the build has no kernel image for is false, and
   * backend 'cuda' then names the capability in its BackendUnavailableError). Asking probes a
   * kernel on the card, which creates a CUDA context (device memory) in this process; backend
   * 'auto' probes only at its first fit large enough for the GPU.
   */
  readonly cudaDevice: boolean;
  /**
   * Why the addon did not load: backend 'auto' then uses TypeScript, and an explicit 'cpu' or
   * 'cuda' fails with BACKEND_UNAVAILABLE.
   */
  readonly error: string | null;
}

/** Reports whether the native core is in use and how it was built. Never throws. */
export function nativeStatus(): NativeStatus {
  const { addon, error } = loadAddon();
  if (addon === null) return { available: false, buildInfo: null, cudaDevice: false, error: error?.message ?? null };
  return { available: true, buildInfo: addon.buildInfo(), cudaDevice: addon.cudaAvailable(), error: null };
}
