/**
 * StrataDB: an embedded LSM-tree key-value store with a Rust engine.
 *
 * ```ts
 * import { open } from 'stratadb';
 * const db = await open('./data');
 * await db.put('hello', 'world');
 * console.log(await db.get('hello'));
 * await db.close();
 * ```
 */
export { open, Db } from './db';
export type { DbOptions } from './db';
export { KvDb, ChainedBatch } from './database';
export type {
  DbStatus,
  KeyInput,
  ValueInput,
  EncodingOptions,
  ReadOptions,
  WriteOptions,
  RangeOptions,
  IteratorOptions,
  BatchOperation,
  Stats,
  LevelStats,
  Iterator,
  KeyIterator,
  ValueIterator,
  VerifyProblem,
  VerifyResult,
  CheckpointInfo,
  ApproximateCount,
} from './database';
export type { IndexDefinition, IndexType, Extractor } from './indexes/definition';
export type { CustomExtractor } from './indexes/extract';
export type { IndexInfo, IndexProgress, BuildOptions } from './indexes/registry';
export type { IndexState } from './indexes/layout';
export type { Query, IndexPredicate, TermValue } from './query/ast';
export type { QueryOptions, QueryResult, QueryStats, Explanation, CountEstimate } from './query/execute';
export type { PlanNode } from './query/plan';
export { Collection } from './collections';
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
  FieldIndex,
  Filter,
  FieldCondition,
  FilterValue,
  TextSearch,
  Document,
  Update,
  PullCondition,
  Projection,
  Id,
  IdInput,
} from './collections';
export { ObjectId } from 'bson';
export { BaseIterator, EntryIterator, ItemIterator } from './iterator';
export { Snapshot } from './snapshot';
export { StrataError, ErrorCodes } from './errors';
export type { ErrorCode } from './errors';
export { profiles, loadConfig, normalizeOptions, toBindingOptions, parseSize, schema } from './options';
export type {
  OpenOptions,
  StrataSettings,
  NormalizedOptions,
  ProfileName,
  CompactionStyle,
  ZstdUse,
  WalRecovery,
  Size,
} from './options';
export type { EncodingName, EncodingTypes } from './encodings';
export { StrataLevel, StrataLevelSnapshot, LevelError } from './level';
export { restore, listBackups, verifyBackup, purgeOldBackups, BACKUP_FORMAT_VERSION } from './admin';
export type {
  BackupDescription,
  BackupFile,
  BackupInfo,
  BackupOptions,
  BackupPhase,
  BackupProblem,
  BackupProgress,
  BackupResult,
  RestoreOptions,
  RestoreResult,
  ExchangeFormat,
  ExchangeProgress,
  ExportOptions,
  ExportRecord,
  ExportResult,
  ImportOptions,
  ImportResult,
} from './admin';
export { openInstances, Instances, Instance } from './instances';
export type { Codec, InstanceConfig, LsmConfig, OpenInstancesOptions, BuildStatus } from './instances';
export type { StrataLevelOptions } from './level';
export { collectMetrics, metricsHandler, LATENCY_BUCKETS } from './metrics';
export type { CollectOptions, MetricsSource, MetricsResponse } from './metrics';
export { OP_CHANNEL } from './diagnostics';
export type { OpKind, OpMessage } from './diagnostics';
export type {
  EngineEvent,
  FlushEvent,
  CompactionEvent,
  WriteStallEvent,
  RecoveryEvent,
  BackgroundErrorEvent,
} from './telemetry/events';
export type { EventLogger, LogLevel } from './telemetry/logs';
export { TRACER_NAME } from './telemetry/traces';
export { startGrpc } from './server/grpc';
export type { GrpcServer, GrpcSettings } from './server/grpc';
