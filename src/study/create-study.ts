/**
 * Creating, loading and listing studies.
 */
import { existsSync } from 'node:fs';
import { DuplicatedStudyError, InvalidOptionError, StudyNotFoundError } from '../errors.js';
import { NopPruner, type Pruner } from '../pruners/pruner.js';
import { RandomSampler } from '../samplers/random-sampler.js';
import type { Sampler } from '../samplers/sampler.js';
import { openStorage, parseStorageSpec } from '../storage/open-storage.js';
import type { Storage, StudySummary } from '../storage/storage.js';
import type { StudyDirection } from '../trial/types.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { Study, checkPrunerDirections, checkSamplerDirections } from './study.js';

/**
 * Where trials are kept: a `Storage` instance, `':memory:'`, or a journal file path
 * (`study.journal`, `journal:./runs/study.log`). Omitted: in memory, as in Optuna; the CLI's default
 * is the journal file `kestrel.journal`.
 */
export type StorageOption = Storage | string;

/** Options of `createStudy`; an unknown name throws `InvalidOptionError`. */
export interface CreateStudyOptions {
  /** Default: a generated unique name. */
  readonly studyName?: string;
  /** Single objective. Default 'minimize'. */
  readonly direction?: StudyDirection;
  /** Several objectives (Pareto front via `bestTrials`). Not together with `direction`. */
  readonly directions?: readonly StudyDirection[];
  /**
   * Default: `new RandomSampler()`. One that models one objective (`TpeSampler`) with several
   * `directions` throws `InvalidOptionError`, before the study is created or loaded.
   */
  readonly sampler?: Sampler;
  /** Default: `new NopPruner()`. Any other pruner with several `directions` throws `InvalidOptionError`. */
  readonly pruner?: Pruner;
  readonly storage?: StorageOption;
  /** Load the study when the name exists (directions must agree) instead of failing. Not a boolean: `InvalidOptionError`. */
  readonly loadIfExists?: boolean;
}

/** Options of `loadStudy`: the study name and its storage are required. An unknown name throws `InvalidOptionError`. */
export interface LoadStudyOptions {
  readonly studyName: string;
  readonly storage: StorageOption;
  /** Default: `new RandomSampler()`. `TpeSampler` (one objective) on a study with several directions throws `InvalidOptionError`. */
  readonly sampler?: Sampler;
  /** Default: `new NopPruner()`. Any other pruner on a study with several directions throws `InvalidOptionError`. */
  readonly pruner?: Pruner;
}

const CREATE_KEYS = optionKeys<CreateStudyOptions>()(['studyName', 'direction', 'directions', 'sampler', 'pruner', 'storage', 'loadIfExists']);
const LOAD_KEYS = optionKeys<LoadStudyOptions>()(['studyName', 'storage', 'sampler', 'pruner']);

/**
 * Creates a study (or loads it with `loadIfExists`). An option name it does not know (`directon`,
 * Optuna's `study_name`) throws `InvalidOptionError` naming it.
 */
export async function createStudy(options: CreateStudyOptions = {}): Promise<Study> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, CREATE_KEYS, 'createStudy');
  const directions = resolveDirections(options);
  // 'true' (a config or environment string) was taken as false, and an existing study was refused
  // with DuplicatedStudyError, telling to pass the loadIfExists: true that had been passed.
  if (options.loadIfExists !== undefined && typeof options.loadIfExists !== 'boolean') {
    throw new InvalidOptionError('loadIfExists', 'a boolean', options.loadIfExists);
  }
  const studyName = options.studyName ?? generateStudyName();
  if (typeof studyName !== 'string' || studyName.length === 0) {
    throw new InvalidOptionError('studyName', 'a non-empty string', options.studyName);
  }
  const sampler = checkSampler(options.sampler) ?? new RandomSampler();
  const pruner = checkPruner(options.pruner) ?? new NopPruner();
  checkSamplerDirections(sampler, studyName, directions);
  checkPrunerDirections(pruner, studyName, directions);
  const { storage, owns } = resolveStorage(options.storage);

  let studyId: number;
  try {
    studyId = await storage.createStudy(studyName, directions);
  } catch (error) {
    if (!(error instanceof DuplicatedStudyError) || options.loadIfExists !== true) {
      if (owns) await storage.close();
      throw error;
    }
    studyId = await storage.getStudyIdFromName(studyName);
    const existing = await storage.getStudyDirections(studyId);
    if (existing.length !== directions.length || existing.some((d, i) => d !== directions[i])) {
      if (owns) await storage.close();
      throw new InvalidOptionError(
        'directions',
        `the directions of the existing study "${studyName}" (${existing.join(', ')})`,
        directions.join(', '),
      );
    }
  }
  return new Study({ studyId, studyName, directions, storage, sampler, pruner, ownsStorage: owns });
}

/**
 * Loads an existing study; rejects with `StudyNotFoundError` when there is none of that name, and
 * with `InvalidOptionError` for an option name it does not know.
 */
export async function loadStudy(options: LoadStudyOptions): Promise<Study> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, LOAD_KEYS, 'loadStudy');
  if (typeof options.studyName !== 'string' || options.studyName.length === 0) {
    throw new InvalidOptionError('studyName', 'a non-empty string', options.studyName);
  }
  const sampler = checkSampler(options.sampler) ?? new RandomSampler();
  const pruner = checkPruner(options.pruner) ?? new NopPruner();
  if (isMissingJournal(options.storage)) throw new StudyNotFoundError(options.studyName);
  const { storage, owns } = resolveStorage(options.storage, true);
  try {
    const studyId = await storage.getStudyIdFromName(options.studyName);
    const directions = await storage.getStudyDirections(studyId);
    checkSamplerDirections(sampler, options.studyName, directions);
    checkPrunerDirections(pruner, options.studyName, directions);
    return new Study({ studyId, studyName: options.studyName, directions, storage, sampler, pruner, ownsStorage: owns });
  } catch (error) {
    if (owns) await storage.close();
    throw error;
  }
}

/** Deletes a study and its trials. */
export async function deleteStudy(options: { readonly studyName: string; readonly storage: StorageOption }): Promise<void> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object {studyName, storage}', options);
  if (typeof options.studyName !== 'string' || options.studyName.length === 0) {
    throw new InvalidOptionError('studyName', 'a non-empty string', options.studyName);
  }
  if (isMissingJournal(options.storage)) throw new StudyNotFoundError(options.studyName);
  const { storage, owns } = resolveStorage(options.storage, true);
  try {
    await storage.deleteStudy(await storage.getStudyIdFromName(options.studyName));
  } finally {
    if (owns) await storage.close();
  }
}

/** Summaries of every study in a storage. */
export async function getAllStudySummaries(options: { readonly storage: StorageOption }): Promise<readonly StudySummary[]> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object {storage}', options);
  if (isMissingJournal(options.storage)) return [];
  const { storage, owns } = resolveStorage(options.storage, true);
  try {
    return await storage.getAllStudies();
  } finally {
    if (owns) await storage.close();
  }
}

function resolveDirections(options: CreateStudyOptions): readonly StudyDirection[] {
  if (options.direction !== undefined && options.directions !== undefined) {
    throw new InvalidOptionError('direction', 'either direction or directions, not both', 'both');
  }
  const directions = options.directions ?? [options.direction ?? 'minimize'];
  if (!Array.isArray(directions) || directions.length === 0) {
    throw new InvalidOptionError('directions', 'a non-empty array of "minimize" | "maximize"', options.directions);
  }
  for (const d of directions) {
    if (d !== 'minimize' && d !== 'maximize') {
      throw new InvalidOptionError(options.direction !== undefined ? 'direction' : 'directions', '"minimize" or "maximize"', d);
    }
  }
  return directions;
}

function resolveStorage(spec: StorageOption | undefined, required = false): { storage: Storage; owns: boolean } {
  if (spec === undefined && required) throw new InvalidOptionError('storage', 'a Storage or a storage path', spec);
  // A Storage object is checked too (openStorage returns it as it is when it has every method).
  if (spec !== undefined && typeof spec !== 'string') return { storage: openStorage(spec), owns: false };
  return { storage: openStorage(spec), owns: true };
}

/**
 * A journal path with no file behind it: reading calls (loadStudy, deleteStudy,
 * getAllStudySummaries) must not create the file and its folders for a mistyped path.
 */
function isMissingJournal(spec: StorageOption | undefined): boolean {
  if (typeof spec !== 'string') return false;
  const parsed = parseStorageSpec(spec);
  return parsed.kind === 'journal' && !existsSync(parsed.path);
}

function checkSampler(sampler: Sampler | undefined): Sampler | undefined {
  if (sampler === undefined) return undefined;
  if (sampler === null || typeof sampler !== 'object' || typeof sampler.sampleIndependent !== 'function') {
    throw new InvalidOptionError('sampler', 'a Sampler (an object with sampleIndependent)', sampler);
  }
  return sampler;
}

function checkPruner(pruner: Pruner | undefined): Pruner | undefined {
  if (pruner === undefined) return undefined;
  if (pruner === null || typeof pruner !== 'object' || typeof pruner.prune !== 'function') {
    throw new InvalidOptionError('pruner', 'a Pruner (an object with prune)', pruner);
  }
  return pruner;
}

let nameCounter = 0;
function generateStudyName(): string {
  const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
  nameCounter += 1;
  return `study-${stamp}-${process.pid}-${nameCounter}`;
}
