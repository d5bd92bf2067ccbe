/**
 * Kyverno's offline-safe CEL functions: image() and its accessors,
 * parseServiceAccount, time.now, math.round, jsonpatch.escapeKey,
 * json/yaml parsing, sha1/sha256/md5 (hex), listObjToMap, gzip, time.truncate
 * and time.toCron (with the `hash.`, `user.`, `transform.` names Kyverno 1.18
 * adds for some of them), plus the context functions
 * (resource.Get/List, image.GetMetadata, globalContext.Get) that read the
 * current CelContextProvider, with Kyverno's error wording
 * (`failed to get resource: configmaps "x" not found`).
 */
import { CelScalar, celFunc, celMethod, listType, objectType, type CelFunc, type CelInput } from '@bufbuild/cel';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { create } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema, timestampNow, type Timestamp } from '@bufbuild/protobuf/wkt';
import { parse as parseYaml } from 'yaml';
import { parseImageReference, type ParsedImageReference } from '../../images/reference.ts';
import type { JsonValue } from '../../engine/types.ts';
import { currentContext, isPendingLookup } from '../context.ts';
import { opaqueType, self, wrap } from '../opaque.ts';
import { goRound } from './ext.ts';
import { toCelInput, toJson } from '../values.ts';

const IMG = opaqueType('Image');
const DYN = CelScalar.DYN;
const STR = CelScalar.STRING;

interface Img { ref: ParsedImageReference; toString(): string }
const img = (v: unknown) => self<Img>('Image', v);
function makeImage(s: string) {
  const ref = parseImageReference(s);
  return wrap('Image', { ref, toString: () => s } satisfies Img, s);
}

function notFound(what: string): never {
  throw new Error(`${what} not found`);
}

function fail(prefix: string, reason: string): never {
  throw new Error(`${prefix}: ${reason}`);
}

/** Kubernetes' NotFound text: `configmaps "x" not found`, `deployments.apps "x" not found`. */
function notFoundText(apiVersion: string, resource: string, name: string): string {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return `${group ? `${resource}.${group}` : resource} "${name}" not found`;
}

/** Runs a provider lookup, prefixing its failure as Kyverno does (a pending lookup's error stays as it is). */
function lookup<T>(prefix: string, get: () => T): T {
  try {
    return get();
  } catch (e) {
    const message = (e as Error).message;
    if (isPendingLookup(message)) throw e;
    throw new Error(`${prefix}: ${message}`);
  }
}

function globalReference(name: string, projection: string): CelInput {
  const d = lookup('failed to get global reference', () => currentContext().globalContext?.(name, projection));
  return d === undefined ? fail('failed to get global reference', `global context entry "${name}" not found`) : toCelInput(d);
}

const TIMESTAMP = objectType(TimestampSchema);
const DURATION = objectType(DurationSchema);
/** Seconds from Go's zero time (0001-01-01 UTC) to the Unix epoch: Go truncates relative to the former. */
const GO_ZERO_TO_UNIX = 62135596800n;
const NANOS = 1_000_000_000n;

/** Go's Time.Truncate: down to a multiple of `d` since the zero time; `d` <= 0 leaves it unchanged. */
function truncateTime(ts: Timestamp, d: { seconds: bigint; nanos: number }): Timestamp {
  const step = d.seconds * NANOS + BigInt(d.nanos);
  if (step <= 0n) return ts;
  const since = (ts.seconds + GO_ZERO_TO_UNIX) * NANOS + BigInt(ts.nanos);
  const down = since - (since % step) - GO_ZERO_TO_UNIX * NANOS;
  const nanos = ((down % NANOS) + NANOS) % NANOS;
  return create(TimestampSchema, { seconds: (down - nanos) / NANOS, nanos: Number(nanos) });
}

/** Kyverno's time.toCron: "minute hour day month weekday" of the instant (UTC). */
function toCron(ts: Timestamp): string {
  const t = new Date(Number(ts.seconds) * 1000);
  return [t.getUTCMinutes(), t.getUTCHours(), t.getUTCDate(), t.getUTCMonth() + 1, t.getUTCDay()].join(' ');
}

function parseServiceAccount(user: string): Map<string, string> {
  const prefix = 'system:serviceaccount:';
  let Namespace = '';
  let Name = '';
  if (user.startsWith(prefix)) {
    const rest = user.slice(prefix.length);
    const sep = rest.indexOf(':');
    if (sep >= 0) {
      Namespace = rest.slice(0, sep);
      Name = rest.slice(sep + 1);
    }
  }
  return new Map([['Namespace', Namespace], ['Name', Name]]);
}

// Kyverno's transform library: keys from list1[i][key], values from list2[i][value].
function listObjToMap(a: Iterable<unknown>, b: Iterable<unknown>, key: string, value: string): Map<string, CelInput> {
  const keys = [...a].map((x) => toJson(x as never));
  const values = [...b].map((x) => toJson(x as never));
  if (keys.length !== values.length) {
    throw new Error(`listObjToMap must take lists of equal length. list1: ${keys.length}, list2: ${values.length}`);
  }
  const out = new Map<string, CelInput>();
  keys.forEach((k, i) => {
    const kv = k && typeof k === 'object' && !Array.isArray(k) ? k[key] : undefined;
    if (typeof kv !== 'string') throw new Error(`listObjToMap: list1[${i}].${key} is not a string`);
    const v = values[i];
    out.set(kv, toCelInput(v && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, value) ? v[value]! : null));
  });
  return out;
}

/** Go's gzip writer as Kyverno sets it up: modification time 0, OS byte "unknown". */
function gzip(s: string): Uint8Array {
  const out = new Uint8Array(gzipSync(Buffer.from(s, 'utf8')));
  out[9] = 0xff;
  return out;
}

export const kyvernoFuncs: CelFunc[] = [
  celFunc('image', [STR], IMG, (s) => makeImage(s)),
  celFunc('parseImageReference', [STR], IMG, (s) => makeImage(s)),
  celFunc('isImage', [STR], CelScalar.BOOL, (s) => {
    try {
      parseImageReference(s);
      return true;
    } catch {
      return false;
    }
  }),
  // go-containerregistry semantics: Docker Hub is index.docker.io, official images live under library/.
  celMethod('registry', IMG, [], STR, function () {
    return img(this).ref.host;
  }),
  celMethod('repository', IMG, [], STR, function () {
    return img(this).ref.repository;
  }),
  celMethod('identifier', IMG, [], STR, function () {
    const r = img(this).ref;
    return r.digest || r.tag;
  }),
  celMethod('tag', IMG, [], STR, function () {
    const r = img(this).ref;
    return r.digest ? '' : r.tag;
  }),
  celMethod('digest', IMG, [], STR, function () {
    return img(this).ref.digest;
  }),
  celMethod('containsDigest', IMG, [], CelScalar.BOOL, function () {
    return img(this).ref.digest !== '';
  }),
  ...['parseServiceAccount', 'user.parseServiceAccount'].map((name) => celFunc(name, [STR], DYN, parseServiceAccount)),
  celFunc('time.now', [], DYN, () => timestampNow()),
  celFunc('time.truncate', [TIMESTAMP, DURATION], TIMESTAMP, (ts, d) => truncateTime(ts.message, d.message)),
  celFunc('time.toCron', [TIMESTAMP], STR, (ts) => toCron(ts.message)),
  celFunc('gzip.compress', [STR], CelScalar.BYTES, gzip),
  celFunc('gzip.decompress', [CelScalar.BYTES], STR, (b) => gunzipSync(b).toString('utf8')),
  celFunc('math.round', [CelScalar.DOUBLE, CelScalar.INT], CelScalar.DOUBLE, (x, n) => {
    const f = 10 ** Number(n);
    return goRound(x * f) / f;
  }),
  celFunc('jsonpatch.escapeKey', [STR], STR, (k) => k.replaceAll('~', '~0').replaceAll('/', '~1')),
  ...(['sha1', 'sha256', 'md5'] as const).flatMap((alg) => [alg, `hash.${alg}`].map((name) => celFunc(name, [STR], STR, (s) => createHash(alg).update(s).digest('hex')))),
  celFunc('json.unmarshal', [STR], DYN, (s) => toCelInput(JSON.parse(s) as JsonValue)),
  celFunc('yaml.parse', [STR], DYN, (s) => toCelInput(parseYaml(s) as JsonValue)),
  ...['listObjToMap', 'transform.listObjToMap'].map((name) => celFunc(name, [listType(DYN), listType(DYN), STR, STR], DYN, listObjToMap)),
  celFunc('resource.Get', [STR, STR, STR, STR], DYN, (apiVersion, resource, ns, name) => {
    const r = lookup('failed to get resource', () => currentContext().getResource?.(apiVersion, resource, ns, name));
    return r === undefined ? fail('failed to get resource', notFoundText(apiVersion, resource, name)) : toCelInput(r);
  }),
  celFunc('resource.List', [STR, STR, STR], DYN, (apiVersion, resource, ns) => {
    const list = lookup('failed to list resource', () => currentContext().listResources?.(apiVersion, resource, ns));
    return toCelInput(list ?? { apiVersion: 'v1', kind: 'List', items: [] });
  }),
  celFunc('image.GetMetadata', [STR], DYN, (ref) => {
    const d = lookup('failed to get image data', () => currentContext().imageData?.(ref));
    return d === undefined ? notFound(`image data for "${ref}"`) : toCelInput(d);
  }),
  celFunc('globalContext.Get', [STR], DYN, (name) => globalReference(name, '')),
  celFunc('globalContext.Get', [STR, STR], DYN, (name, projection) => globalReference(name, projection)),
];
