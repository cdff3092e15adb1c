/** The level-ecosystem face of StrataDB: `StrataLevel`, an abstract-level 3 database. */
export { StrataLevel, MANIFEST } from './database';
export type { StrataLevelOptions, StrataLevelFormat } from './database';
export { StrataLevelIterator, StrataLevelKeyIterator, StrataLevelValueIterator } from './iterator';
export { StrataLevelSnapshot } from './snapshot';
export { LevelError } from './errors';
