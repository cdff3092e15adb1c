/** abstract-level ships its compliance suite (`abstract-level/test`) without typings. */
declare module 'abstract-level/test' {
  import type { Test } from 'tape';

  interface SuiteOptions {
    test: (name: string, cb: (t: Test) => unknown) => void;
    factory: (options?: Record<string, unknown>) => unknown;
  }

  function suite(options: SuiteOptions): void;
  export = suite;
}
