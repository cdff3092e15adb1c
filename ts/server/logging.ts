/**
 * Request logging at the cost of what is logged: request ids from a counter, a request's
 * pino child logger made only when the request logs a line at an enabled level, and one line
 * per request (`request completed`, with method, url, status and time) instead of fastify's
 * two (`incoming request` + `request completed`).
 */
import { randomBytes } from 'node:crypto';

import { FastifyBaseLogger, FastifyReply, FastifyRequest, LogController } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Pino = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };
type LogArgs = Parameters<FastifyBaseLogger['info']>;

/**
 * Request ids `<8 hex digits of this process>-<counter in base 36>`: unique within a process
 * and, by the random prefix, across restarts; far cheaper than a UUID per request. A client's
 * `x-request-id` header is used instead when it sends one (fastify's `requestIdHeader`).
 */
export function requestIds(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}

/**
 * A request's logger: pino's child with the request's bindings (`reqId`), made on the first
 * line logged at an enabled level (a request that logs nothing costs no child logger).
 */
export class RequestLogger implements FastifyBaseLogger {
  #parent: Pino;
  #bindings: Bindings;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: Pino, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings));
  }

  /** True when a line at `level` would be written. */
  enabled(level: Level): boolean {
    const c = this.#child as Pino | undefined;
    return c !== undefined ? c.isLevelEnabled(level) : this.#parent.isLevelEnabled(level);
  }

  #log(level: Level, args: LogArgs): void {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return;
    (this.#real()[level] as (...a: LogArgs) => void)(...args);
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  fatal(...args: LogArgs): void {
    this.#log('fatal', args);
  }
  error(...args: LogArgs): void {
    this.#log('error', args);
  }
  warn(...args: LogArgs): void {
    this.#log('warn', args);
  }
  info(...args: LogArgs): void {
    this.#log('info', args);
  }
  debug(...args: LogArgs): void {
    this.#log('debug', args);
  }
  trace(...args: LogArgs): void {
    this.#log('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

/** fastify's `childLoggerFactory`: a `RequestLogger` over a pino logger (fastify's own child otherwise, or with per-route options). */
export function requestLogger(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  const pino = logger as Partial<Pino>;
  if (typeof pino.isLevelEnabled !== 'function' || opts.level !== undefined || opts.serializers !== undefined) return logger.child(bindings, opts);
  return new RequestLogger(logger as Pino, bindings);
}

/** One `request completed` line per request (at `info`; `request errored` at `error`), with what fastify's `incoming request` line had. */
export class OneLineLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const log = reply.log;
    const level = error ? 'error' : 'info';
    if (log instanceof RequestLogger && !log.enabled(level)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) log.error({ ...line, err: error }, 'request errored');
    else log.info(line, 'request completed');
  }
}
