/** MongoDB-style collections over the KV and index layers (`db.collection(name, { indexes })`). */
export { Collection, openCollection } from './collection';
export type {
  CollectionOptions,
  CollectionWriteOptions,
  FindOptions,
  FindResult,
  WithId,
  OptionalId,
  InsertOneResult,
  InsertManyResult,
  UpdateResult,
  DeleteResult,
} from './collection';
export type { FieldIndex } from './fields';
export type { Filter, FieldCondition, FilterValue, TextSearch } from './filter';
export type { Document, Update, PullCondition, Projection } from './update';
export type { Id, IdInput } from './ids';
export { COLLECTION_NAME_RE } from './ids';
