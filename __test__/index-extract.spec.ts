/**
 * Index definitions (`ts/indexes/definition.ts`), paths and extractors
 * (`ts/indexes/extract.ts`) and the text tokenizer (`ts/indexes/text.ts`).
 */
import test, { ExecutionContext } from 'ava';
import { Binary, BSON, BSONRegExp, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'bson';

import { StrataError } from '../ts/errors';
import { IndexDefinition, normalizeIndexDefinition, sameDefinition } from '../ts/indexes/definition';
import { CompileContext, CustomExtractor, MAX_COMPOUND_TERMS, codePointCompare, compareBytes, compileIndex, compilePath, evalPath } from '../ts/indexes/extract';
import { MAX_TERM_BYTES, Term, encodeTerm, encodeTerms } from '../ts/indexes/terms';
import { MAX_TOKEN_BYTES, asciiWords, foldToken, queryTokens, segmenterWords, tokenize, tokensInto, words } from '../ts/indexes/text';
import { mulberry32 } from './helpers';

function invalid(t: ExecutionContext, fn: () => unknown, message: RegExp): StrataError {
  const e = t.throws(fn, { instanceOf: StrataError }) as StrataError;
  t.is(e.code, 'STRATA_INVALID_ARGUMENT');
  t.regex(e.message, message);
  return e;
}

const ctx = (customs: Record<string, CustomExtractor> = {}): CompileContext => ({
  customs,
  decodeKey: (b) => b.toString('utf8'),
  decodeValue: (b) => JSON.parse(b.toString('utf8')) as unknown,
});

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const bson = (v: Record<string, unknown>) => Buffer.from(BSON.serialize(v));
const key = (s: string) => Buffer.from(s);

/** The terms an index gives, sorted and encoded as `compileIndex` must return them. */
function expected(terms: Term[]): Buffer[] {
  const bs = terms.map((x) => encodeTerm(x)).sort(Buffer.compare);
  return bs.filter((b, i) => i === 0 || !b.equals(bs[i - 1] as Buffer));
}

function idx(def: Partial<IndexDefinition> & Pick<IndexDefinition, 'extractor'>, customs?: Record<string, CustomExtractor>) {
  return compileIndex({ name: 'ix', type: 'equality', ...def } as IndexDefinition, ctx(customs));
}

// ---- definitions -------------------------------------------------------------------------

test('normalizeIndexDefinition returns a canonical form', (t) => {
  const a = normalizeIndexDefinition({ extractor: { path: "$['user']['email']", kind: 'json_path' }, type: 'equality', name: 'byEmail' });
  const b = normalizeIndexDefinition({ name: 'byEmail', unique: false, sparse: false, type: 'equality', extractor: { kind: 'json_path', path: '$.user.email' } });
  t.is(JSON.stringify(a), JSON.stringify(b));
  t.deepEqual(a, { name: 'byEmail', type: 'equality', extractor: { kind: 'json_path', path: '$.user.email' }, unique: false, sparse: false });
  t.deepEqual(Object.keys(a), ['name', 'type', 'extractor', 'unique', 'sparse']);
  const c = normalizeIndexDefinition({ sparse: true, scope: 'user:', unique: true, name: 'x', type: 'range', extractor: { paths: ['$["a"]', '$.b[*]'], kind: 'bson_path' } });
  t.deepEqual(Object.keys(c), ['name', 'type', 'extractor', 'scope', 'unique', 'sparse']);
  t.deepEqual(c.extractor, { kind: 'bson_path', paths: ['$.a', '$.b[*]'] });
  t.deepEqual(normalizeIndexDefinition({ name: 'r', type: 'equality', extractor: { kind: 'raw' } }).extractor, { kind: 'raw' });
  t.deepEqual(normalizeIndexDefinition({ name: 'c', type: 'text', extractor: { name: 'fn', kind: 'custom' } }).extractor, { kind: 'custom', name: 'fn' });
  // A fresh object: the input is not aliased.
  const input = { name: 'p', type: 'range', extractor: { kind: 'json_path', paths: ['$.a', '$.b'] } };
  const out = normalizeIndexDefinition(input);
  (input.extractor.paths as string[]).push('$.c');
  t.deepEqual((out.extractor as { paths: string[] }).paths, ['$.a', '$.b']);
  // Null-prototype objects (from some parsers) are accepted.
  t.is(normalizeIndexDefinition(Object.assign(Object.create(null), { name: 'n', type: 'equality', extractor: { kind: 'raw' } })).name, 'n');
});

test('sameDefinition compares canonical forms', (t) => {
  const base: IndexDefinition = { name: 'a', type: 'range', extractor: { kind: 'json_path', path: '$.x' } };
  t.true(sameDefinition(base, { ...base, unique: false, extractor: { kind: 'json_path', path: "$['x']" } }));
  t.false(sameDefinition(base, { ...base, sparse: true }));
  t.false(sameDefinition(base, { ...base, type: 'equality' }));
  t.false(sameDefinition(base, { ...base, scope: 'a' }));
  t.false(sameDefinition(base, { ...base, extractor: { kind: 'bson_path', path: '$.x' } }));
  t.throws(() => sameDefinition(base, { ...base, name: '' }), { instanceOf: StrataError });
});

test('invalid definitions name the field', (t) => {
  const ok = { name: 'ix', type: 'equality', extractor: { kind: 'json_path', path: '$.a' } };
  const cases: [unknown, RegExp][] = [
    [null, /^indexes\[2\] must be an object, got null$/],
    [[ok], /^indexes\[2\] must be an object, got array$/],
    [{ ...ok, unqiue: true }, /^indexes\[2\]: unknown key "unqiue"/],
    [{ ...ok, name: undefined }, /^indexes\[2\]\.name must be a string, got undefined/],
    [{ ...ok, name: '' }, /^indexes\[2\]\.name must be 1-128 characters long, got 0/],
    [{ ...ok, name: 'x'.repeat(129) }, /^indexes\[2\]\.name must be 1-128 characters long, got 129/],
    [{ ...ok, name: 'by email' }, /^indexes\[2\]\.name: "by email" may only contain/],
    [{ ...ok, name: 'é' }, /^indexes\[2\]\.name: "é" may only contain/],
    [{ ...ok, type: undefined }, /^indexes\[2\]\.type is required/],
    [{ ...ok, type: 'hash' }, /^indexes\[2\]\.type: unknown index type "hash" \(expected one of equality, range, text\)/],
    [{ ...ok, extractor: undefined }, /^indexes\[2\]\.extractor is required/],
    [{ ...ok, extractor: '$.a' }, /^indexes\[2\]\.extractor must be an object, got string/],
    [{ ...ok, extractor: { path: '$.a' } }, /^indexes\[2\]\.extractor\.kind is required/],
    [{ ...ok, extractor: { kind: 'xpath', path: '$.a' } }, /^indexes\[2\]\.extractor\.kind: unknown extractor kind "xpath"/],
    [{ ...ok, extractor: { kind: 'raw', path: '$.a' } }, /^indexes\[2\]\.extractor: unknown key "path"/],
    [{ ...ok, extractor: { kind: 'json_path', path: '$.a', name: 'x' } }, /^indexes\[2\]\.extractor: unknown key "name"/],
    [{ ...ok, extractor: { kind: 'custom', name: 'f', path: '$' } }, /^indexes\[2\]\.extractor: unknown key "path"/],
    [{ ...ok, extractor: { kind: 'custom' } }, /^indexes\[2\]\.extractor\.name must be a string/],
    [{ ...ok, extractor: { kind: 'json_path' } }, /^indexes\[2\]\.extractor: path \(or paths, for a compound index\) is required/],
    [{ ...ok, extractor: { kind: 'json_path', path: '$.a', paths: ['$.a', '$.b'] } }, /^indexes\[2\]\.extractor: give either path or paths/],
    [{ ...ok, extractor: { kind: 'json_path', path: 5 } }, /^indexes\[2\]\.extractor\.path must be a string, got number/],
    [{ ...ok, extractor: { kind: 'json_path', path: 'a.b' } }, /^indexes\[2\]\.extractor\.path: a path starts with '\$' at offset 0 in "a\.b"/],
    [{ ...ok, extractor: { kind: 'bson_path', paths: '$.a' } }, /^indexes\[2\]\.extractor\.paths must be an array/],
    [{ ...ok, extractor: { kind: 'bson_path', paths: ['$.a'] } }, /^indexes\[2\]\.extractor\.paths must hold 2-8 paths, got 1 \(use path/],
    [{ ...ok, extractor: { kind: 'bson_path', paths: Array.from({ length: 9 }, (_, i) => `$.f${i}`) } }, /paths must hold 2-8 paths, got 9/],
    [{ ...ok, extractor: { kind: 'json_path', paths: ['$.a', '$.b', '$.c['] } }, /^indexes\[2\]\.extractor\.paths\[2\]: /],
    [{ ...ok, extractor: { kind: 'json_path', paths: ['$.a', '$.b', 7] } }, /^indexes\[2\]\.extractor\.paths\[2\] must be a string/],
    [{ ...ok, extractor: { kind: 'json_path', paths: ['$.a', "$['a']"] } }, /^indexes\[2\]\.extractor\.paths\[1\]: "\$\.a" repeats paths\[0\]/],
    [{ ...ok, scope: '' }, /^indexes\[2\]\.scope must not be empty/],
    [{ ...ok, scope: 5 }, /^indexes\[2\]\.scope must be a string, got number/],
    [{ ...ok, unique: 'yes' }, /^indexes\[2\]\.unique must be a boolean, got string/],
    [{ ...ok, sparse: null }, /^indexes\[2\]\.sparse must be a boolean, got null/],
    [{ ...ok, type: 'text', extractor: { kind: 'json_path', paths: ['$.a', '$.b'] } }, /^indexes\[2\]\.extractor\.paths: a text index takes a single path/],
    [{ ...ok, type: 'text', unique: true }, /^indexes\[2\]\.unique: a text index cannot be unique/],
  ];
  for (const [def, message] of cases) invalid(t, () => normalizeIndexDefinition(def, 'indexes[2]'), message);
  // The default prefix.
  invalid(t, () => normalizeIndexDefinition({ ...ok, name: '' }), /^index\.name /);
  // Limits that are accepted.
  t.is(normalizeIndexDefinition({ ...ok, name: 'A-z_0.9'.padEnd(128, 'x') }).name.length, 128);
  t.is((normalizeIndexDefinition({ ...ok, extractor: { kind: 'json_path', paths: Array.from({ length: 8 }, (_, i) => `$.f${i}`) } }).extractor as { paths: string[] }).paths.length, 8);
  t.true(normalizeIndexDefinition({ ...ok, type: 'text', extractor: { kind: 'raw' } }).type === 'text');
  t.true(normalizeIndexDefinition({ ...ok, unique: true, extractor: { kind: 'json_path', paths: ['$.a', '$.b'] } }).unique === true);
});

// ---- paths -------------------------------------------------------------------------------

test('compilePath: accepted paths and their canonical spelling', (t) => {
  const cases: [string, string][] = [
    ['$', '$'],
    ['$.a', '$.a'],
    ['$.a.b', '$.a.b'],
    ["$['a b']", "$['a b']"],
    ['$["a"]', '$.a'],
    ["$['a']['b']", '$.a.b'],
    ['$.a[0]', '$.a[0]'],
    ['$.a[12][3]', '$.a[12][3]'],
    ['$.tags[*]', '$.tags[*]'],
    ['$.items[*].sku', '$.items[*].sku'],
    ['$[*]', '$[*]'],
    ["$['0']", "$['0']"],
    ["$['']", "$['']"],
    ['$._id', '$._id'],
    ['$.$oid', '$.$oid'],
    ['$.é.naïve', '$.é.naïve'],
    ['$["\\u00e9"]', '$.é'],
    ["$['it\\'s']", "$['it\\'s']"],
    ['$["say \\"hi\\""]', `$['say "hi"']`],
    ["$['a\\\\b']", "$['a\\\\b']"],
    ["$['tab\\there']", "$['tab\\u0009here']"],
    ["$['a.b']", "$['a.b']"],
    ["$['a-b']", "$['a-b']"],
  ];
  for (const [src, canonical] of cases) {
    const p = compilePath(src);
    t.is(p.canonical, canonical, src);
    t.is(p.source, src);
    // The canonical spelling parses to the same path.
    t.deepEqual(compilePath(p.canonical).segments, p.segments, src);
  }
  t.deepEqual(compilePath("$.items[*]['sku'][2]").segments, [
    { kind: 'member', name: 'items' },
    { kind: 'wildcard' },
    { kind: 'member', name: 'sku' },
    { kind: 'index', index: 2 },
  ]);
});

test('compilePath: everything else is rejected with the offset', (t) => {
  const cases: [string, RegExp][] = [
    ['', /must not be empty/],
    ['a', /a path starts with '\$' at offset 0/],
    ['$a', /unexpected "a" \(expected '\.' or '\['\) at offset 1/],
    ['$.', /expected a member name after '\.' .* at offset 2/],
    ['$.a.', /expected a member name after '\.'.* at offset 4/],
    ['$..a', /recursive descent/],
    ['$.*', /'\.\*' is not supported/],
    ['$.0', /member name "0" must be written \['0'\] at offset 2/],
    ['$.a b', /unexpected " " .* at offset 3/],
    ['$.a-b', /unexpected "-"/],
    ['$[', /expected \[index\]/],
    ['$[-1]', /negative array indexes are not supported/],
    ['$[01]', /leading zero/],
    ['$[ 0]', /expected \[index\]/],
    ['$[0:2]', /expected \[index\]/],
    ['$[?(@.a)]', /expected \[index\]/],
    ['$[*', /expected '\]' after '\[\*'/],
    ["$['a", /unterminated quoted name/],
    ["$['a'", /expected '\]' after the quoted name/],
    ["$['a\"]", /unterminated quoted name/],
    ["$['\\x']", /unknown escape \\x/],
    ["$['\\u12']", /four hex digits/],
    ['$[99999999999]', /array index too large/],
    [' $', /a path starts with/],
    ['$.a ', /unexpected " "/],
  ];
  for (const [src, message] of cases) {
    const e = invalid(t, () => compilePath(src, 'extractor.path'), message);
    t.true(e.message.startsWith('extractor.path'), e.message);
    if (src !== '') t.true(e.message.includes(JSON.stringify(src)), `${e.message} names the path`);
  }
  invalid(t, () => compilePath(3 as unknown as string), /path must be a string, got number/);
  invalid(t, () => compilePath('$' + '.a'.repeat(600)), /longer than 1024 characters/);
});

test('evalPath walks members, indexes and wildcards', (t) => {
  const doc = { a: { b: 1 }, tags: ['x', 'y', ['z']], items: [{ sku: 's1' }, { sku: 's2' }, { nope: 1 }, 'str'], n: null, 'a b': 2 };
  const ev = (p: string) => evalPath(doc, compilePath(p));
  t.deepEqual(ev('$'), [doc]);
  t.deepEqual(ev('$.a.b'), [1]);
  t.deepEqual(ev('$.a'), [{ b: 1 }]);
  t.deepEqual(ev("$['a b']"), [2]);
  t.deepEqual(ev('$.tags[*]'), ['x', 'y', ['z']]);
  t.deepEqual(ev('$.tags[1]'), ['y']);
  t.deepEqual(ev('$.tags[9]'), []);
  t.deepEqual(ev('$.tags[*][*]'), ['z']);
  t.deepEqual(ev('$.items[*].sku'), ['s1', 's2']);
  t.deepEqual(ev('$.n'), [null]);
  t.deepEqual(ev('$.missing'), []);
  t.deepEqual(ev('$.a[*]'), [], '[*] on an object gives nothing');
  t.deepEqual(ev('$.a.b.c'), [], 'a member of a number');
  t.deepEqual(ev('$.tags.length'), [], 'no members of arrays');
  t.deepEqual(evalPath({ __proto__: { inherited: 1 } }, compilePath('$.inherited')), [], 'own properties only');
  t.deepEqual(evalPath(5, compilePath('$')), [5]);
  t.deepEqual(evalPath({ id: new ObjectId('0123456789abcdef01234567') }, compilePath('$.id.id')), [], 'no stepping into BSON values');
});

// ---- json_path ---------------------------------------------------------------------------

test('json_path: scalars, missing fields, sparse, skipped values', (t) => {
  const ix = idx({ extractor: { kind: 'json_path', path: '$.email' } });
  t.deepEqual(ix.terms(key('u1'), json({ email: 'a@x' })), expected(['a@x']));
  t.deepEqual(ix.terms(key('u1'), json({ email: 12.5 })), expected([12.5]));
  t.deepEqual(ix.terms(key('u1'), json({ email: false })), expected([false]));
  t.deepEqual(ix.terms(key('u1'), json({ email: null })), expected([null]));
  t.deepEqual(ix.terms(key('u1'), json({ other: 1 })), expected([null]), 'missing → null');
  t.deepEqual(ix.terms(key('u1'), json([1, 2])), expected([null]), 'missing in a non-object → null');
  t.deepEqual(ix.terms(key('u1'), json({ email: { a: 1 } })), [], 'objects are skipped');
  t.deepEqual(ix.terms(key('u1'), json({ email: ['a', 'b'] })), [], 'arrays without [*] are skipped');
  const sparse = idx({ sparse: true, extractor: { kind: 'json_path', path: '$.email' } });
  t.deepEqual(sparse.terms(key('u1'), json({ other: 1 })), []);
  t.deepEqual(sparse.terms(key('u1'), json({ email: null })), expected([null]), 'an explicit null is indexed');
  t.deepEqual(sparse.terms(key('u1'), json({ email: 'e' })), expected(['e']));
  const root = idx({ extractor: { kind: 'json_path', path: '$' } });
  t.deepEqual(root.terms(key('k'), json('hello')), expected(['hello']));
  t.deepEqual(root.terms(key('k'), json({ a: 1 })), []);
});

test('json_path: [*] gives one term per element, deduplicated and sorted bytewise', (t) => {
  const tags = idx({ extractor: { kind: 'json_path', path: '$.tags[*]' } });
  const got = tags.terms(key('k'), json({ tags: ['b', 'a', 3, 'b', null, true, { x: 1 }, ['n'], -1] }));
  t.deepEqual(got, expected(['a', 'b', 3, null, true, -1]));
  for (let i = 0; i + 1 < got.length; i++) t.is(Buffer.compare(got[i] as Buffer, got[i + 1] as Buffer), -1);
  t.deepEqual(tags.terms(key('k'), json({ tags: [] })), expected([null]), 'an empty array reaches nothing: missing');
  t.deepEqual(tags.terms(key('k'), json({ tags: 'solo' })), expected([null]), '[*] on a scalar reaches nothing');
  const skus = idx({ extractor: { kind: 'json_path', path: '$.items[*].sku' } });
  t.deepEqual(skus.terms(key('k'), json({ items: [{ sku: 'b' }, { sku: 'a' }, { no: 1 }, { sku: 'a' }] })), expected(['a', 'b']));
  const second = idx({ extractor: { kind: 'json_path', path: '$.items[1].sku' } });
  t.deepEqual(second.terms(key('k'), json({ items: [{ sku: 'b' }, { sku: 'a' }] })), expected(['a']));
});

test('json_path: values that do not parse, and numbers that cannot be indexed, name the index and the key', (t) => {
  const ix = idx({ name: 'byEmail', extractor: { kind: 'json_path', path: '$.email' } });
  const e = invalid(t, () => ix.terms(key('user:1'), Buffer.from('{not json')), /^index "byEmail", key "user:1": value is not JSON/);
  t.truthy(e.cause);
  invalid(t, () => ix.terms(key('user:1'), Buffer.from([0x22, 0xff, 0x22])), /key "user:1": value is not JSON/);
  invalid(t, () => ix.terms(Buffer.from([0, 1, 0xfe]), Buffer.from('x')), /^index "byEmail", key 0x0001fe: value is not JSON/);
  invalid(t, () => ix.terms(key('user:2'), Buffer.from('{"email": 1e400}')), /^index "byEmail", key "user:2", path \$\.email: Infinity cannot be indexed/);
});

test('terms longer than MAX_TERM_BYTES are rejected naming index, key and limit', (t) => {
  const ix = idx({ name: 'big', extractor: { kind: 'json_path', path: '$.s' } });
  t.is(ix.terms(key('k'), json({ s: 'x'.repeat(MAX_TERM_BYTES - 3) }))[0]?.length, MAX_TERM_BYTES);
  const e = invalid(t, () => ix.terms(key('k1'), json({ s: 'x'.repeat(2000) })), /^index "big", key "k1": .*2003 bytes exceeds MAX_TERM_BYTES \(1024\)/);
  t.true(e.cause instanceof StrataError);
  const raw = idx({ name: 'rawbig', extractor: { kind: 'raw' } });
  invalid(t, () => raw.terms(key('k2'), Buffer.alloc(1100, 1)), /^index "rawbig", key "k2": .*MAX_TERM_BYTES \(1024\)/);
  const compound = idx({ name: 'cbig', extractor: { kind: 'json_path', paths: ['$.a', '$.b'] } });
  invalid(t, () => compound.terms(key('k3'), json({ a: 'a'.repeat(600), b: 'b'.repeat(600) })), /^index "cbig", key "k3": encoded compound term of 1206 bytes exceeds MAX_TERM_BYTES \(1024\)/);
  // Long keys are shortened in messages.
  const longKey = key('k'.repeat(500));
  const e2 = invalid(t, () => ix.terms(longKey, json({ s: 'x'.repeat(2000) })), /key "k{64}"… \(500 bytes\)/);
  t.true(e2.message.length < 400);
});

// ---- compound ----------------------------------------------------------------------------

test('compound: cross product of the per-path terms, missing paths as null', (t) => {
  const ix = idx({ type: 'range', extractor: { kind: 'json_path', paths: ['$.country', '$.tags[*]'] } });
  t.deepEqual(
    ix.terms(key('k'), json({ country: 'FR', tags: ['b', 'a', 'b'] })),
    [encodeTerms(['FR', 'a']), encodeTerms(['FR', 'b'])],
  );
  t.deepEqual(ix.terms(key('k'), json({ tags: ['a'] })), [encodeTerms([null, 'a'])]);
  t.deepEqual(ix.terms(key('k'), json({ country: 'FR' })), [encodeTerms(['FR', null])]);
  t.deepEqual(ix.terms(key('k'), json({})), [encodeTerms([null, null])]);
  t.deepEqual(ix.terms(key('k'), json({ country: { nested: 1 }, tags: ['a'] })), [], 'a path with only skipped values gives no tuple');
  const multi = idx({ extractor: { kind: 'json_path', paths: ['$.a[*]', '$.b[*]', '$.c'] } });
  const got = multi.terms(key('k'), json({ a: [2, 1], b: ['y', 'x'], c: true }));
  const want = [
    [1, 'x', true],
    [1, 'y', true],
    [2, 'x', true],
    [2, 'y', true],
  ].map((tuple) => encodeTerms(tuple as Term[]));
  t.deepEqual(got, want);
});

test('compound sparse: skipped only when every path is missing', (t) => {
  const ix = idx({ sparse: true, extractor: { kind: 'json_path', paths: ['$.a', '$.b'] } });
  t.deepEqual(ix.terms(key('k'), json({ c: 1 })), []);
  t.deepEqual(ix.terms(key('k'), json({ a: 1 })), [encodeTerms([1, null])]);
  t.deepEqual(ix.terms(key('k'), json({ b: 2 })), [encodeTerms([null, 2])]);
});

test(`compound: at most ${MAX_COMPOUND_TERMS} terms per record`, (t) => {
  const ix = idx({ name: 'grid', extractor: { kind: 'json_path', paths: ['$.a[*]', '$.b[*]'] } });
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  t.is(ix.terms(key('k'), json({ a: range(10), b: range(100) })).length, 1000);
  invalid(t, () => ix.terms(key('k9'), json({ a: range(40), b: range(30) })), /^index "grid", key "k9": the compound index would produce 1200 terms \(40 x 30\), more than MAX_COMPOUND_TERMS \(1000\)/);
  // Duplicates are removed before the product is counted.
  t.is(ix.terms(key('k'), json({ a: [...range(10), ...range(10)], b: range(100) })).length, 1000);
});

// ---- bson_path ---------------------------------------------------------------------------

test('bson_path: BSON values map to terms', (t) => {
  const ix = (path: string) => idx({ extractor: { kind: 'bson_path', path } });
  const oid = new ObjectId('0123456789abcdef01234567');
  const uuid = new UUID('01234567-89ab-cdef-0123-456789abcdef');
  const doc = bson({
    i32: new Int32(7),
    dbl: new Double(2.5),
    num: 3,
    small: Long.fromNumber(-42),
    safe: Long.fromNumber(Number.MAX_SAFE_INTEGER),
    dec: Decimal128.fromString('12.50'),
    dec01: Decimal128.fromString('0.1'),
    decZero: Decimal128.fromString('-0.00'),
    at: new Date(1_700_000_000_123),
    oid,
    bin: new Binary(Buffer.from([0, 1, 2])),
    uuid,
    s: 'str',
    b: true,
    n: null,
    list: [new Int32(1), Long.fromNumber(1), 1, 'one', oid],
  });
  const one = (path: string, term: Term) => t.deepEqual(ix(path).terms(key('k'), doc), expected([term]), path);
  one('$.i32', 7);
  one('$.dbl', 2.5);
  one('$.num', 3);
  one('$.small', -42);
  one('$.safe', Number.MAX_SAFE_INTEGER);
  one('$.dec', 12.5);
  one('$.dec01', 0.1);
  one('$.decZero', 0);
  one('$.at', 1_700_000_000_123);
  one('$.oid', '0123456789abcdef01234567');
  one('$.bin', new Uint8Array([0, 1, 2]));
  one('$.uuid', Buffer.from(uuid.toHexString(false), 'hex'));
  one('$.s', 'str');
  one('$.b', true);
  one('$.n', null);
  one('$.missing', null);
  t.deepEqual(ix('$.list[*]').terms(key('k'), doc), expected([1, 'one', '0123456789abcdef01234567']));
});

test('bson_path: values that cannot be numbers are errors, other BSON types are skipped', (t) => {
  const ix = (path: string) => idx({ name: 'b', extractor: { kind: 'bson_path', path } });
  const doc = bson({
    big: Long.fromString('9007199254740993'),
    dec: Decimal128.fromString('1234567890.12345678901234567890'),
    decNaN: Decimal128.fromString('NaN'),
    decInf: Decimal128.fromString('Infinity'),
    re: new BSONRegExp('a+', 'i'),
    code: new Code('function () {}'),
    ts: new Timestamp({ t: 1, i: 2 }),
    min: new MinKey(),
    max: new MaxKey(),
    obj: { a: 1 },
  });
  invalid(t, () => ix('$.big').terms(key('k'), doc), /^index "b", key "k", path \$\.big: integer 9007199254740993 is not a safe integer/);
  invalid(t, () => ix('$.dec').terms(key('k'), doc), /Decimal128 1234567890\.12345678901234567890 is not exactly representable/);
  invalid(t, () => ix('$.decNaN').terms(key('k'), doc), /Decimal128 NaN is not exactly representable/);
  invalid(t, () => ix('$.decInf').terms(key('k'), doc), /Decimal128 Infinity/);
  for (const p of ['$.re', '$.code', '$.ts', '$.min', '$.max', '$.obj']) t.deepEqual(ix(p).terms(key('k'), doc), [], p);
});

test('bson_path: a value that is not BSON names the index and the key', (t) => {
  const ix = idx({ name: 'bp', extractor: { kind: 'bson_path', path: '$.a' } });
  const e = invalid(t, () => ix.terms(key('doc:7'), Buffer.from('{"a":1}')), /^index "bp", key "doc:7": value is not a BSON document/);
  t.truthy(e.cause);
  invalid(t, () => ix.terms(key('doc:8'), Buffer.alloc(0)), /key "doc:8": value is not a BSON document/);
  // Compound over BSON.
  const c = idx({ extractor: { kind: 'bson_path', paths: ['$.a', '$.b[*]'] } });
  t.deepEqual(c.terms(key('k'), bson({ a: Long.fromNumber(5), b: [new Date(1), new Date(2)] })), [encodeTerms([5, 1]), encodeTerms([5, 2])]);
});

// ---- raw ---------------------------------------------------------------------------------

test('raw: the stored bytes as one bytes term', (t) => {
  const ix = idx({ extractor: { kind: 'raw' } });
  const v = Buffer.from([0, 1, 2, 0xff]);
  const got = ix.terms(key('k'), v);
  t.deepEqual(got, expected([v]));
  v[0] = 9; // the term does not alias the value
  t.deepEqual(got, expected([Buffer.from([0, 1, 2, 0xff])]));
  t.deepEqual(ix.terms(key('k'), Buffer.alloc(0)), expected([new Uint8Array(0)]));
});

// ---- text --------------------------------------------------------------------------------

test('tokenize: words, lower-cased, accents folded, deduplicated in first-seen order', (t) => {
  t.deepEqual(tokenize('São Paulo'), ['sao', 'paulo']);
  t.deepEqual(tokenize('Hello, hello HELLO world!'), ['hello', 'world']);
  t.deepEqual(tokenize('Crème Brûlée — naïve façade'), ['creme', 'brulee', 'naive', 'facade']);
  t.deepEqual(tokenize('  ...  !!! '), []);
  t.deepEqual(tokenize(''), []);
  t.deepEqual(tokenize('version 3.14 of e-mail'), ['version', '3.14', 'of', 'e', 'mail']);
  t.deepEqual(tokenize('ÉCOLE école Ecole'), ['ecole']);
  t.deepEqual(tokenize('Ångström'), ['angstrom']);
  t.deepEqual(tokenize('a\ud800b'), ['a', 'b']);
  // Composed and decomposed spellings give the same token.
  t.deepEqual(tokenize('caf\u00e9'), tokenize('cafe\u0301'));
  t.deepEqual(queryTokens('São  PAULO sao'), ['sao', 'paulo']);
  t.deepEqual(tokenize(`short ${'w'.repeat(MAX_TOKEN_BYTES + 1)} ${'v'.repeat(MAX_TOKEN_BYTES)}`), ['short', 'v'.repeat(MAX_TOKEN_BYTES)]);
  invalid(t, () => tokenize(5 as unknown as string), /^text must be a string, got number/);
  invalid(t, () => queryTokens(null as unknown as string), /^match text must be a string, got null/);
});

test('text index: every string value is tokenized, other values are skipped', (t) => {
  const body = idx({ type: 'text', extractor: { kind: 'json_path', path: '$.body' } });
  t.deepEqual(body.terms(key('k'), json({ body: 'The quick fox; the QUICK dog' })), expected(['the', 'quick', 'fox', 'dog']));
  t.deepEqual(body.terms(key('k'), json({ body: 42 })), []);
  t.deepEqual(body.terms(key('k'), json({})), [], 'a missing field gives no token (even without sparse)');
  t.deepEqual(body.terms(key('k'), json({ body: '' })), []);
  const tags = idx({ type: 'text', extractor: { kind: 'json_path', path: '$.tags[*]' } });
  t.deepEqual(tags.terms(key('k'), json({ tags: ['Rio de Janeiro', 'São Paulo', 7, 'rio'] })), expected(['rio', 'de', 'janeiro', 'sao', 'paulo']));
  const raw = idx({ name: 'rt', type: 'text', extractor: { kind: 'raw' } });
  t.deepEqual(raw.terms(key('k'), Buffer.from('Ça va? Ça va.')), expected(['ca', 'va']));
  invalid(t, () => raw.terms(key('k5'), Buffer.from([0x61, 0xff])), /^index "rt", key "k5": value is not valid UTF-8 text/);
});

// ---- custom ------------------------------------------------------------------------------

test('custom: called with the decoded value and key; Term, Term[] or undefined', (t) => {
  const calls: unknown[][] = [];
  const customs: Record<string, CustomExtractor> = {
    domain: (value, k) => {
      calls.push([value, k]);
      const email = (value as { email?: string }).email;
      return email === undefined ? undefined : email.split('@')[1];
    },
    many: (value) => (value as { xs: Term[] }).xs,
    nothing: () => null,
    words: (value) => [(value as { title: string }).title, 5],
  };
  const ix = idx({ extractor: { kind: 'custom', name: 'domain' } }, customs);
  t.deepEqual(ix.terms(key('u:1'), json({ email: 'a@example.com' })), expected(['example.com']));
  t.deepEqual(calls, [[{ email: 'a@example.com' }, 'u:1']]);
  t.deepEqual(ix.terms(key('u:2'), json({})), [], 'undefined: not indexed');
  const many = idx({ extractor: { kind: 'custom', name: 'many' } }, customs);
  t.deepEqual(many.terms(key('k'), json({ xs: [3, 'a', 3, null, true] })), expected([3, 'a', null, true]));
  t.deepEqual(many.terms(key('k'), json({ xs: [] })), []);
  t.deepEqual(idx({ extractor: { kind: 'custom', name: 'nothing' } }, customs).terms(key('k'), json(1)), expected([null]));
  const text = idx({ type: 'text', extractor: { kind: 'custom', name: 'words' } }, customs);
  t.deepEqual(text.terms(key('k'), json({ title: 'Hello World' })), expected(['hello', 'world']));
});

test('custom: unregistered names fail at compile time; throws and junk name the index and key', (t) => {
  invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'nope' } }, { other: () => 1 }), /^index "c": custom extractor "nope" is not registered \(registered: "other"\)/);
  invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'nope' } }), /none are registered/);
  invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'toString' } }), /"toString" is not registered/);
  const boom = new Error('boom');
  const junk: Record<string, unknown> = {
    object: { a: 1 },
    func: () => 1,
    nan: NaN,
    inf: Infinity,
    symbol: Symbol('s'),
    nested: [[1]],
    bigint: 5n,
    date: new Date(0),
    promise: Promise.resolve(1),
  };
  const customs: Record<string, CustomExtractor> = {
    throws: () => {
      throw boom;
    },
  };
  for (const [name, r] of Object.entries(junk)) customs[name] = () => r;
  const e = invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'throws' } }, customs).terms(key('k1'), json(1)), /^index "c", key "k1": custom extractor "throws" threw: boom$/);
  t.is(e.cause, boom);
  for (const name of Object.keys(junk)) {
    const ix = idx({ name: 'c', extractor: { kind: 'custom', name } }, customs);
    const err = invalid(t, () => ix.terms(key('k2'), json(1)), /^index "c", key "k2": custom extractor ("promise" )?returned/);
    t.notRegex(err.message, /undefined$/, name);
  }
  invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'nan' } }, customs).terms(key('k'), json(1)), /returned NaN/);
  invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'nested' } }, customs).terms(key('k'), json(1)), /returned array at \[0\]/);
  invalid(t, () => idx({ name: 'c', extractor: { kind: 'custom', name: 'promise' } }, customs).terms(key('k'), json(1)), /returned a promise/);
  // A value the database cannot decode.
  const ix = idx({ name: 'c', extractor: { kind: 'custom', name: 'throws' } }, customs);
  const d = invalid(t, () => ix.terms(key('k3'), Buffer.from('{')), /^index "c", key "k3": cannot decode the record for the custom extractor/);
  t.truthy(d.cause);
});

// ---- scope -------------------------------------------------------------------------------

test('scope: only keys starting with the scope are indexed', (t) => {
  const ix = idx({ scope: 'user:', extractor: { kind: 'json_path', path: '$.a' } });
  t.true(ix.inScope(key('user:1')));
  t.true(ix.inScope(key('user:')));
  t.false(ix.inScope(key('user')));
  t.false(ix.inScope(key('order:1')));
  t.deepEqual(ix.terms(key('user:1'), json({ a: 1 })), expected([1]));
  t.deepEqual(ix.terms(key('order:1'), json({ a: 1 })), []);
  // Out-of-scope values are not even parsed.
  t.deepEqual(ix.terms(key('order:2'), Buffer.from('not json')), []);
  const utf8 = idx({ scope: 'é', extractor: { kind: 'raw' } });
  t.true(utf8.inScope(Buffer.from('éa')));
  t.false(utf8.inScope(Buffer.from([0xc3])));
  const all = idx({ extractor: { kind: 'raw' } });
  t.true(all.inScope(Buffer.from([0])));
  t.deepEqual(ix.def, normalizeIndexDefinition({ name: 'ix', type: 'equality', scope: 'user:', extractor: { kind: 'json_path', path: '$.a' } }));
});

test('compileIndex validates the definition', (t) => {
  invalid(t, () => compileIndex({ name: 'x', type: 'text', unique: true, extractor: { kind: 'raw' } }, ctx()), /^index definition\.unique: a text index cannot be unique/);
});

test('asciiWords segments ASCII text exactly as Intl.Segmenter does', (t) => {
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  // Every ASCII character, with letters, digits, '_' and the joiners over-represented.
  const alphabet = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('') + "aZe09_.,;:'".repeat(6);
  let mismatches = 0;
  for (let k = 0; k < 20000; k++) {
    let s = '';
    for (let i = 0, n = 1 + Math.floor(rnd() * 24); i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const want = JSON.stringify(segmenterWords(s));
    const got = JSON.stringify(asciiWords(s));
    if (want !== got && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: segmenter ${want}, asciiWords ${got}`);
  }
  t.is(mismatches, 0);
  t.deepEqual(asciiWords("don't stop: 3.14, a:b e.g. __ _ x_1"), ["don't", 'stop', '3.14', 'a:b', 'e.g', '__', 'x_1']);
});

test('words() cuts mixed text at ASCII whitespace and agrees with Intl.Segmenter', (t) => {
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  // ASCII, accented letters, a combining mark, ZWJ, an emoji, CJK, Thai, RTL, NBSP, regional indicators.
  const alphabet = [
    ...'aZe09_.,;:\'- \t\n'.split(''),
    ...'   ',
    'é', 'ã', 'ç', '\u0301', '\u200d', '😀', '日本', 'ไทย', 'שלום', '\u00a0', '🇧🇷', 'ß', 'İ',
  ];
  let mismatches = 0;
  for (let k = 0; k < 5000; k++) {
    let s = '';
    for (let i = 0, n = 1 + Math.floor(rnd() * 16); i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const want = JSON.stringify(segmenterWords(s));
    const got = JSON.stringify(words(s));
    if (want !== got && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: segmenter ${want}, words ${got}`);
  }
  t.is(mismatches, 0);
});

/** Every character of U+0000–U+FFFF that is a letter (`\p{L}`) in the Latin-1 range. */
const LATIN1_LETTERS = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).filter((c) => /^\p{L}$/u.test(c) && c !== '\u00aa' && c !== '\u00b5' && c !== '\u00ba');

test('runs of Latin-1 letters are one word for Intl.Segmenter (the fast path of words())', (t) => {
  t.is(LATIN1_LETTERS.length, 52 + 62);
  for (const c of LATIN1_LETTERS) {
    t.deepEqual(segmenterWords(c), [c], `U+${c.charCodeAt(0).toString(16)}`);
    t.deepEqual(segmenterWords(`a${c}b`), [`a${c}b`], `U+${c.charCodeAt(0).toString(16)} between letters`);
    t.deepEqual(words(`x${c}é${c}`), segmenterWords(`x${c}é${c}`));
  }
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  // Runs of Latin-1 letters with the characters next to the range (ª µ º × ÷, ASCII joiners) mixed in.
  const alphabet = [...LATIN1_LETTERS, '\u00aa', '\u00b5', '\u00ba', '\u00d7', '\u00f7', '\u00bf', "'", '.', ':', ' ', '1'];
  let mismatches = 0;
  for (let k = 0; k < 5000; k++) {
    let s = '';
    for (let i = 0, n = 1 + Math.floor(rnd() * 12); i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const want = JSON.stringify(segmenterWords(s));
    const got = JSON.stringify(words(s));
    if (want !== got && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: segmenter ${want}, words ${got}`);
  }
  t.is(mismatches, 0);
});

/** The tokenizer written the slow way: every word from the segmenter, folded, deduplicated. */
function referenceTokens(s: string): string[] {
  const out: string[] = [];
  for (const w of segmenterWords(s)) {
    const f = foldToken(w);
    if (f.length > 0 && Buffer.byteLength(f, 'utf8') <= MAX_TOKEN_BYTES && !out.includes(f)) out.push(f);
  }
  return out;
}

test('tokenize() gives exactly the tokens of the segmenter pipeline on random ASCII and Unicode text', (t) => {
  const textIx = idx({ type: 'text', extractor: { kind: 'json_path', path: '$.t' } });
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  const ascii = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('') + "aZe09_.,;:' ".repeat(6);
  const mixed = [
    ...ascii.split(''), ...LATIN1_LETTERS, 'São', 'CAFÉ', 'İ', 'ß', '\u0301', '\u200d', '😀', '日本', 'ไทย', 'שלום', '\u00a0', '🇧🇷', 'ǅ', 'Ω', '\ud800', 'x'.repeat(300),
  ];
  let mismatches = 0;
  for (let k = 0; k < 6000; k++) {
    const alphabet = k % 2 === 0 ? ascii.split('') : mixed;
    let s = '';
    for (let i = 0, n = 1 + Math.floor(rnd() * 40); i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const ref = referenceTokens(s);
    const want = JSON.stringify(ref);
    const got = JSON.stringify(tokenize(s));
    if (want !== got && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: reference ${want}, tokenize ${got}`);
    const all: string[] = [];
    tokensInto(s, all);
    const gotAll = JSON.stringify([...new Set(all)]);
    if (want !== gotAll && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: reference ${want}, tokensInto ${JSON.stringify(all)}`);
    const wantTerms = JSON.stringify(expected(ref));
    const set = textIx.termSet(key('k'), json({ t: s }));
    const gotTerms = JSON.stringify([...set].sort(Buffer.compare));
    if ((wantTerms !== gotTerms || set.length !== ref.length) && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: text index terms ${gotTerms}, want ${wantTerms}`);
    if (JSON.stringify(textIx.terms(key('k'), json({ t: s }))) !== wantTerms && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(s)}: sorted terms differ`);
  }
  t.is(mismatches, 0);
});

test('a run of Latin-1 letters folds letter by letter (the fast path of the tokenizer)', (t) => {
  for (const c of LATIN1_LETTERS) t.deepEqual(tokenize(`${c}é`), [foldToken(`${c}é`)], `U+${c.charCodeAt(0).toString(16)}`);
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  let mismatches = 0;
  for (let k = 0; k < 5000; k++) {
    let w = '';
    for (let i = 0, n = 1 + Math.floor(rnd() * 12); i < n; i++) w += LATIN1_LETTERS[Math.floor(rnd() * LATIN1_LETTERS.length)];
    const want = JSON.stringify(referenceTokens(w));
    const got = JSON.stringify(tokenize(`${w} ${w}`));
    if (want !== got && mismatches++ < 5) t.log(`seed ${seed}: ${JSON.stringify(w)}: reference ${want}, tokenize ${got}`);
  }
  t.is(mismatches, 0);
  // Long Latin-1 words: the UTF-8 length (two bytes per letter above U+007F) decides.
  t.deepEqual(tokenize('Æ'.repeat(MAX_TOKEN_BYTES / 2)), ['æ'.repeat(MAX_TOKEN_BYTES / 2)]);
  t.deepEqual(tokenize(`${'Æ'.repeat(MAX_TOKEN_BYTES / 2)}é`), []);
  t.deepEqual(tokenize(`${'É'.repeat(MAX_TOKEN_BYTES)}`), ['e'.repeat(MAX_TOKEN_BYTES)], 'folded to one byte each');
  t.deepEqual(tokenize(`ß${'a'.repeat(MAX_TOKEN_BYTES - 2)}`), [`ß${'a'.repeat(MAX_TOKEN_BYTES - 2)}`]);
  t.deepEqual(tokenize(`ß${'a'.repeat(MAX_TOKEN_BYTES - 1)}`), []);
});

/** The terms of one JSON path the slow way: `evalPath`, then the value rules, then `encodeTerm`. */
function referencePathTerms(doc: unknown, path: string, text: boolean, sparse: boolean): Buffer[] {
  const found = evalPath(doc, compilePath(path));
  if (found.length === 0) return sparse || text ? [] : expected([null]);
  const values = found.filter((v): v is Term => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
  if (!text) return expected(values);
  return expected(values.filter((v): v is string => typeof v === 'string').flatMap((s) => tokenize(s)));
}

test('single json_path and bson_path indexes give exactly the terms of evalPath (random documents and paths)', (t) => {
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const names = ['a', 'b', 'c'];
  const scalars: unknown[] = [null, true, false, 0, 1, -2.5, 1e300, 'x', 'Y', 'São Paulo', 'a b a', '', 'é\u0000', 'x'.repeat(70)];
  const value = (depth: number): unknown => {
    const k = int(depth > 2 ? 1 : 4);
    if (k === 0) return scalars[int(scalars.length)];
    if (k === 1) return Array.from({ length: int(4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (const n of names) if (rnd() < 0.6) o[n] = value(depth + 1);
    return o;
  };
  const paths = ['$', '$.a', '$.a.b', '$.a[*]', '$.a.b[*]', '$.a[*].b', '$.a[1]', '$.a[*][*]', '$.c.c.c'];
  let mismatches = 0;
  for (let k = 0; k < 3000; k++) {
    const doc: Record<string, unknown> = {};
    for (const n of names) if (rnd() < 0.7) doc[n] = value(1);
    const path = paths[int(paths.length)] as string;
    const text = rnd() < 0.3;
    const sparse = rnd() < 0.3;
    const want = referencePathTerms(doc, path, text, sparse);
    for (const kind of ['json_path', 'bson_path'] as const) {
      const extractor = kind === 'json_path' ? { kind, path } : { kind, path };
      const ix = idx({ type: text ? 'text' : 'equality', sparse, extractor });
      const value = kind === 'json_path' ? json(doc) : bson(doc);
      const got = ix.terms(key('k'), value);
      const set = ix.termSet(key('k'), value);
      if (JSON.stringify(got) !== JSON.stringify(want) && mismatches++ < 5) {
        t.log(`seed ${seed}: ${kind} ${path} text=${text} sparse=${sparse} of ${JSON.stringify(doc)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
      if (JSON.stringify([...set].sort(compareBytes)) !== JSON.stringify(want) && mismatches++ < 5) {
        t.log(`seed ${seed}: ${kind} ${path} text=${text} sparse=${sparse} of ${JSON.stringify(doc)}: termSet ${JSON.stringify(set)}, want ${JSON.stringify(want)}`);
      }
    }
  }
  t.is(mismatches, 0);
});

test('a text index gives its tokens encoded, sorted bytewise and distinct (code-point order of the strings)', (t) => {
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  const ix = idx({ type: 'text', extractor: { kind: 'json_path', path: '$.t[*]' } });
  const parts = ['a', 'B', 'é', 'É', '\u00ff', '\uffee', '\ue000', '😀', '𝒳', '日', '\u0000', '1', ' ', '.', 'zz', 'Ω'];
  for (let k = 0; k < 2000; k++) {
    const texts: string[] = [];
    for (let j = 0, m = 1 + Math.floor(rnd() * 3); j < m; j++) {
      let s = '';
      for (let i = 0, n = Math.floor(rnd() * 30); i < n; i++) s += parts[Math.floor(rnd() * parts.length)];
      texts.push(s);
    }
    const got = ix.terms(key('k'), json({ t: texts }));
    t.deepEqual(got, expected(texts.flatMap((s) => tokenize(s))), JSON.stringify(texts));
  }
  const pairs = ['\uffee', '😀', '\ue000', 'a', '\u00ff', '\ud7ff'];
  for (const a of pairs) for (const b of pairs) t.is(Math.sign(codePointCompare(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${a} ${b}`);
});
