/**
 * Long operations started over HTTP (a backup, an index build) run as jobs: each has an id, a
 * state and its last progress event, which clients poll (`GET /jobs/{id}`) or follow as a
 * stream (`GET /jobs/{id}/events`, one JSON event per line). The registry keeps every running
 * job and the last `KEEP_FINISHED` finished ones, in memory: a restart forgets them (the work
 * they did stays: a backup exists once complete, an index once built).
 */
import { randomUUID } from 'node:crypto';

import { toHttp } from './errors';

export type JobKind = 'backup' | 'index-create' | 'index-rebuild';
export type JobState = 'running' | 'done' | 'failed';

/** The last progress event of a job: a phase and how far it is, in steps and (when known) bytes. */
export interface JobProgress {
  phase: string;
  done: number;
  total: number;
  bytes?: number;
  totalBytes?: number;
}

export interface Job {
  id: string;
  kind: JobKind;
  instance: string;
  /** What it works on: the index name, or the backup directory's instance. */
  target: string;
  state: JobState;
  progress: JobProgress;
  startedAt: string;
  finishedAt?: string;
  /** What the operation answered (state `done`). */
  result?: Record<string, unknown>;
  /** Why it failed (state `failed`), in the error format of the API. */
  error?: { code: string; message: string };
}

/** One line of `GET /jobs/{id}/events`. */
export interface JobEvent {
  type: 'progress' | 'done' | 'failed';
  job: Job;
}

const KEEP_FINISHED = 100;

export class JobRegistry {
  readonly #jobs = new Map<string, Job>();
  readonly #listeners = new Map<string, Set<(e: JobEvent) => void>>();

  /** Starts `run` as a job; `report` records (and streams) a progress event. */
  start(
    kind: JobKind,
    instance: string,
    target: string,
    run: (report: (p: JobProgress) => void) => Promise<Record<string, unknown>>,
  ): Job {
    const job: Job = { id: randomUUID(), kind, instance, target, state: 'running', progress: { phase: 'start', done: 0, total: 0 }, startedAt: new Date().toISOString() };
    this.#jobs.set(job.id, job);
    const report = (p: JobProgress): void => {
      if (job.state !== 'running') return;
      job.progress = { ...p };
      this.#emit({ type: 'progress', job: this.#copy(job) });
    };
    // Started on the next turn, so the caller answers with the job before any event.
    setImmediate(() => {
      run(report).then(
        (result) => this.#finish(job, 'done', { result }),
        (e: unknown) => this.#finish(job, 'failed', { error: toHttp(e).body.error }),
      );
    });
    return this.#copy(job);
  }

  get(id: string): Job | undefined {
    const j = this.#jobs.get(id);
    return j === undefined ? undefined : this.#copy(j);
  }

  /** Every job kept, newest first. */
  list(): Job[] {
    return [...this.#jobs.values()].reverse().map((j) => this.#copy(j));
  }

  /** True when a job of `kind` on `instance`/`target` is running. */
  running(kind: JobKind, instance: string, target: string): Job | undefined {
    for (const j of this.#jobs.values()) if (j.state === 'running' && j.kind === kind && j.instance === instance && j.target === target) return this.#copy(j);
    return undefined;
  }

  /** Calls `fn` with each event of job `id` until it finishes; returns the unsubscribe. */
  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    let set = this.#listeners.get(id);
    if (set === undefined) this.#listeners.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(id);
    };
  }

  #finish(job: Job, state: 'done' | 'failed', extra: Pick<Job, 'result' | 'error'>): void {
    Object.assign(job, { state, finishedAt: new Date().toISOString() }, extra);
    this.#emit({ type: state, job: this.#copy(job) });
    this.#listeners.delete(job.id);
    const finished = [...this.#jobs.values()].filter((j) => j.state !== 'running');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.#jobs.delete(old.id);
  }

  #emit(e: JobEvent): void {
    for (const fn of [...(this.#listeners.get(e.job.id) ?? [])]) fn(e);
  }

  #copy(j: Job): Job {
    return structuredClone(j);
  }
}
