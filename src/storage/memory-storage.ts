/**
 * `InMemoryStorage`: trials kept in this process only (Optuna's `InMemoryStorage`). Every call is
 * O(1) amortized apart from `getAllTrials` (see `StorageState`), so ask+tell stays fast at any
 * study size. Calls are synchronous under the hood, which makes each one atomic with respect to
 * concurrent promises of the same process.
 */
import { StorageError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { JsonValue, StudyDirection } from '../trial/types.js';
import type {
  GetTrialsOptions,
  Storage,
  StudySummary,
  TrialFinish,
  TrialTemplate,
  TrialUpdate,
} from './storage.js';
import { StorageState, type AttrKind } from './storage-state.js';
import {
  checkCount,
  checkDirections,
  checkGetTrialsOptions,
  checkId,
  checkKey,
  checkKeys,
  checkStudyName,
  cloneJsonValue,
  normalizeFinish,
  normalizeTemplate,
  normalizeUpdate,
} from './validate.js';

/**
 * Trials kept in this process only, lost when it exits (Optuna's `InMemoryStorage`): the default
 * storage of `createStudy`.
 */
export class InMemoryStorage implements Storage {
  private readonly state = new StorageState();
  private closed = false;

  async createStudy(studyName: string, directions: readonly StudyDirection[]): Promise<number> {
    this.open();
    return this.state.createStudy(checkStudyName(studyName), checkDirections(directions), Date.now());
  }

  async deleteStudy(studyId: number): Promise<void> {
    this.open();
    this.state.deleteStudy(checkId('studyId', studyId));
  }

  async getStudyIdFromName(studyName: string): Promise<number> {
    this.open();
    return this.state.studyIdFromName(checkStudyName(studyName));
  }

  async getStudyName(studyId: number): Promise<string> {
    this.open();
    return this.state.studyName(checkId('studyId', studyId));
  }

  async getStudyDirections(studyId: number): Promise<readonly StudyDirection[]> {
    this.open();
    return this.state.directions(checkId('studyId', studyId));
  }

  async getAllStudies(): Promise<readonly StudySummary[]> {
    this.open();
    return this.state.allStudies();
  }

  async setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    this.setStudyAttr('user', studyId, key, value);
  }

  async setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    this.setStudyAttr('system', studyId, key, value);
  }

  async getStudyUserAttrs(studyId: number): Promise<Readonly<Record<string, JsonValue>>> {
    this.open();
    return this.state.studyAttrs(checkId('studyId', studyId), 'user');
  }

  async getStudySystemAttrs(studyId: number): Promise<Readonly<Record<string, JsonValue>>> {
    this.open();
    return this.state.studyAttrs(checkId('studyId', studyId), 'system');
  }

  async createTrial(studyId: number, template?: TrialTemplate): Promise<FrozenTrial> {
    this.open();
    const id = checkId('studyId', studyId);
    const normalized = normalizeTemplate(template, this.state.directions(id).length);
    return this.state.createTrial(id, normalized, Date.now());
  }

  async createTrialIfBelow(studyId: number, maxTrials: number, template?: TrialTemplate): Promise<FrozenTrial | null> {
    this.open();
    const id = checkId('studyId', studyId);
    const max = checkCount('maxTrials', maxTrials);
    const normalized = normalizeTemplate(template, this.state.directions(id).length);
    if (this.state.getNTrials(id) >= max) return null;
    return this.state.createTrial(id, normalized, Date.now());
  }

  async popWaitingTrial(studyId: number): Promise<FrozenTrial | null> {
    this.open();
    const trialId = this.state.peekWaiting(checkId('studyId', studyId));
    return trialId === null ? null : this.state.startWaiting(trialId, Date.now());
  }

  async updateTrial(trialId: number, update: TrialUpdate): Promise<void> {
    this.open();
    const id = checkId('trialId', trialId);
    this.state.updateTrial(id, normalizeUpdate(update));
  }

  async finishTrial(trialId: number, finish: TrialFinish): Promise<FrozenTrial> {
    this.open();
    const id = checkId('trialId', trialId);
    const normalized = normalizeFinish(finish, this.state.finishDirections(id));
    return this.state.finishTrial(id, normalized, Date.now());
  }

  async getTrial(trialId: number): Promise<FrozenTrial> {
    this.open();
    return this.state.getTrial(checkId('trialId', trialId));
  }

  async getAllTrials(studyId: number, options?: GetTrialsOptions): Promise<readonly FrozenTrial[]> {
    this.open();
    return this.state.getAllTrials(checkId('studyId', studyId), checkGetTrialsOptions(options));
  }

  async getNTrials(studyId: number, options?: GetTrialsOptions): Promise<number> {
    this.open();
    return this.state.getNTrials(checkId('studyId', studyId), checkGetTrialsOptions(options));
  }

  async claim(studyId: number, key: string): Promise<boolean> {
    this.open();
    return this.state.claim(checkId('studyId', studyId), checkKey('key', key));
  }

  async areClaimed(studyId: number, keys: readonly string[]): Promise<readonly boolean[]> {
    this.open();
    const id = checkId('studyId', studyId);
    return checkKeys(keys).map((key) => this.state.isClaimed(id, key));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private setStudyAttr(kind: AttrKind, studyId: number, key: string, value: JsonValue): void {
    this.open();
    const id = checkId('studyId', studyId);
    checkKey('key', key);
    this.state.setStudyAttr(id, kind, key, cloneJsonValue('value', value));
  }

  private open(): void {
    if (this.closed) throw new StorageError('the in-memory storage is closed');
  }
}
