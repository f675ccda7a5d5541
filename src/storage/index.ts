/** The storage module's public surface. */
export type {
  GetTrialsOptions,
  Storage,
  StudySummary,
  TrialFinish,
  TrialTemplate,
  TrialUpdate,
} from './storage.js';
export { InMemoryStorage } from './memory-storage.js';
export { JournalStorage, JOURNAL_FORMAT, JOURNAL_VERSION, type JournalStorageOptions } from './journal-storage.js';
export { openStorage } from './open-storage.js';
export { trialsToCsv, trialsToJson, type TrialJson } from './export.js';
