/**
 * What every handler gets: the instances by name, the limits, the event hook, and the
 * wrappers that turn a handler's promise into a gRPC answer (auth first, errors mapped,
 * the request timeout enforced). Handlers never see grpc-js callbacks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { Metadata, ServerUnaryCall, ServerWritableStream, handleServerStreamingCall, handleUnaryCall, sendUnaryData } from '@grpc/grpc-js';

import type { Db } from '../../db';
import { StrataError, invalidArgument } from '../../errors';
import { Failure, ServerError, toFailure } from './errors';
import type { Codec } from './values';

/** Limits of the server (defaults in `DEFAULT_LIMITS`). */
export interface GrpcLimits {
  /** Largest request message, in bytes (grpc-js answers RESOURCE_EXHAUSTED past it). */
  maxMessageBytes: number;
  /** Longest key (also scan bounds), in bytes. */
  maxKeyBytes: number;
  /** Largest value (bytes or JSON text; also a collection document's text), in bytes. */
  maxValueBytes: number;
  /** Most operations in one `Batch`. */
  maxBatchOps: number;
  /** Entries per `Scan` message when the request gives no `batch_size`. */
  scanBatchSize: number;
  /** Largest `batch_size` a `Scan` may ask for. */
  maxScanBatch: number;
  /** A `Scan` message is cut once its keys and values reach about this many bytes. */
  scanBatchBytes: number;
  /** A unary call still running after this many milliseconds answers DEADLINE_EXCEEDED. */
  requestTimeoutMs: number;
  /** `close()` waits this long for calls in flight, then cancels them. */
  shutdownTimeoutMs: number;
  /** Concurrent calls per client connection (HTTP/2 streams). */
  maxConcurrentStreams: number;
}

export const DEFAULT_LIMITS: GrpcLimits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxKeyBytes: 16 * 1024,
  maxValueBytes: 1024 * 1024,
  maxBatchOps: 1000,
  scanBatchSize: 100,
  maxScanBatch: 1000,
  scanBatchBytes: 256 * 1024,
  requestTimeoutMs: 30_000,
  shutdownTimeoutMs: 10_000,
  maxConcurrentStreams: 100,
};

/** What the server reports to `settings.onEvent` (for logs and metrics). */
export type GrpcEvent =
  | {
      type: 'error';
      method: string;
      /** The StrataDB code sent in `strata-code`. */
      code: string;
      /** The gRPC status code sent. */
      status: number;
      message: string;
      /** For INTERNAL errors (bugs): what was thrown. Never sent to the client. */
      cause?: unknown;
    }
  /** A Scan waits for its client to read (flow control): `sent` entries are out so far. */
  | { type: 'scan-wait'; instance: string; sent: number }
  /** A Scan ended: all sent, cancelled by the client, or failed. */
  | { type: 'scan-end'; instance: string; sent: number; reason: 'done' | 'cancelled' | 'error' };

/** One instance the server serves. */
export interface Instance {
  name: string;
  db: Db<unknown, unknown>;
  codec: Codec;
}

export interface Context {
  /** The named instance (empty name: the first); `STRATA_NOT_FOUND` otherwise. */
  instance(name: string): Instance;
  /** As `instance`, for query, index and collection calls: `STRATA_INVALID_ARGUMENT` on an instance served without queries. */
  queryInstance(name: string): Instance;
  limits: GrpcLimits;
  emit(e: GrpcEvent): void;
}

/** Rejects a key longer than the limit with `STRATA_LIMIT`. */
export function checkKey(ctx: Context, key: Buffer, what: string): Buffer {
  if (key.length > ctx.limits.maxKeyBytes) {
    throw new ServerError('STRATA_LIMIT', `${what} is ${key.length} bytes, more than the server's limit of ${ctx.limits.maxKeyBytes}`);
  }
  return key;
}

/** `{ sync }` when the request set it, else nothing (the database's default). */
export function syncOption(req: { sync?: boolean }): { sync?: boolean } {
  return req.sync === undefined ? {} : { sync: req.sync };
}

/**
 * What a request deserialises to when its bytes are not a message of its type: the handler
 * answers INVALID_ARGUMENT (grpc-js itself would answer INTERNAL).
 */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

function checkRequest(method: string, req: unknown): void {
  if (req instanceof MalformedRequest) throw invalidArgument(`the ${method} request is not a valid protobuf message: ${req.reason}`);
}

/** Checks the `authorization` metadata against the token (when there is one), in constant time. */
export class Auth {
  readonly #digest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.#digest = token === undefined ? undefined : createHash('sha256').update(token, 'utf8').digest();
  }

  check(metadata: Metadata): void {
    if (this.#digest === undefined) return;
    const values = metadata.get('authorization');
    const header = values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
    const m = header === undefined ? null : /^Bearer ([^\s]+)$/i.exec(header.trim());
    if (m === null || m[1] === undefined) throw new ServerError('STRATA_UNAUTHENTICATED', 'this server needs the metadata authorization: Bearer <token>');
    // Hashing both sides makes the comparison constant-time whatever the lengths.
    const given = createHash('sha256').update(m[1], 'utf8').digest();
    if (!timingSafeEqual(given, this.#digest)) throw new ServerError('STRATA_UNAUTHENTICATED', 'wrong bearer token');
  }
}

function report(ctx: Context, method: string, e: unknown): Failure {
  const f = toFailure(e);
  const event: GrpcEvent = { type: 'error', method, code: f.code, status: f.status.code, message: f.status.details };
  if (f.unexpected !== undefined) event.cause = f.unexpected;
  ctx.emit(event);
  return f;
}

/** A unary handler: auth, then `fn`, errors mapped, answered at most once (timeout included). */
export function unary<Req, Res>(
  ctx: Context,
  auth: Auth,
  method: string,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    let answered = false;
    const answer = (e: unknown, res?: Res): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (e === undefined) callback(null, res);
      else callback(report(ctx, method, e).status);
    };
    // The operation itself cannot be stopped; its answer is dropped if it comes later.
    const timer = setTimeout(
      () => answer(new ServerError('STRATA_TIMEOUT', `${method} took longer than the server's request timeout of ${ctx.limits.requestTimeoutMs} ms`)),
      ctx.limits.requestTimeoutMs,
    );
    timer.unref();
    new Promise<Res>((resolve) => {
      auth.check(call.metadata);
      checkRequest(method, call.request);
      resolve(fn(call.request, call));
    }).then(
      (res) => answer(undefined, res),
      (e: unknown) => answer(e ?? new StrataError('STRATA_INTERNAL', 'a handler failed without an error')),
    );
  };
}

/** A server-streaming handler: auth, then `fn` writes; an error ends the call with its status. */
export function streaming<Req, Res>(
  ctx: Context,
  auth: Auth,
  method: string,
  fn: (req: Req, call: ServerWritableStream<Req, Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    new Promise<void>((resolve) => {
      auth.check(call.metadata);
      checkRequest(method, call.request);
      resolve(fn(call.request, call));
    }).then(
      () => {
        if (!call.cancelled && !call.writableEnded) call.end();
      },
      (e: unknown) => {
        const f = report(ctx, method, e ?? new StrataError('STRATA_INTERNAL', 'a handler failed without an error'));
        if (!call.cancelled && !call.writableEnded) call.emit('error', f.status);
      },
    );
  };
}
