/**
 * Kyverno's offline-safe CEL functions: image() and its accessors,
 * parseServiceAccount, time.now, math.round, jsonpatch.escapeKey,
 * json/yaml parsing, sha1/sha256/md5 (hex), listObjToMap, plus the context functions
 * (resource.Get/List, image.GetMetadata, globalContext.Get) that read the
 * current CelContextProvider.
 */
import { CelScalar, celFunc, celMethod, listType, type CelFunc, type CelInput } from '@bufbuild/cel';
import { createHash } from 'node:crypto';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { parse as parseYaml } from 'yaml';
import { parseImageReference, type ParsedImageReference } from '../../images/reference.ts';
import type { JsonValue } from '../../engine/types.ts';
import { currentContext } from '../context.ts';
import { opaqueType, self, wrap } from '../opaque.ts';
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
  celFunc('parseServiceAccount', [STR], DYN, (user) => {
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
  }),
  celFunc('time.now', [], DYN, () => timestampNow()),
  celFunc('math.round', [CelScalar.DOUBLE, CelScalar.INT], CelScalar.DOUBLE, (x, n) => {
    const f = 10 ** Number(n);
    return Math.round(x * f) / f;
  }),
  celFunc('jsonpatch.escapeKey', [STR], STR, (k) => k.replaceAll('~', '~0').replaceAll('/', '~1')),
  ...(['sha1', 'sha256', 'md5'] as const).map((alg) => celFunc(alg, [STR], STR, (s) => createHash(alg).update(s).digest('hex'))),
  celFunc('json.unmarshal', [STR], DYN, (s) => toCelInput(JSON.parse(s) as JsonValue)),
  celFunc('yaml.parse', [STR], DYN, (s) => toCelInput(parseYaml(s) as JsonValue)),
  celFunc('listObjToMap', [listType(DYN), listType(DYN), STR, STR], DYN, (a, b, key, value) => {
    const out = new Map<string, CelInput>();
    for (const l of [a, b]) {
      for (const e of l) {
        const o = toJson(e);
        if (o && typeof o === 'object' && !Array.isArray(o) && typeof o[key] === 'string') out.set(o[key], toCelInput(o[value]));
      }
    }
    return out;
  }),
  celFunc('resource.Get', [STR, STR, STR, STR], DYN, (apiVersion, resource, ns, name) => {
    const r = currentContext().getResource?.(apiVersion, resource, ns, name);
    return r === undefined ? notFound(`${resource} "${name}"`) : toCelInput(r);
  }),
  celFunc('resource.List', [STR, STR, STR], DYN, (apiVersion, resource, ns) => {
    const items = currentContext().listResources?.(apiVersion, resource, ns) ?? [];
    return toCelInput({ apiVersion: 'v1', kind: 'List', items });
  }),
  celFunc('image.GetMetadata', [STR], DYN, (ref) => {
    const d = currentContext().imageData?.(ref);
    return d === undefined ? notFound(`image data for "${ref}"`) : toCelInput(d);
  }),
  celFunc('globalContext.Get', [STR, STR], DYN, (name, projection) => {
    const d = currentContext().globalContext?.(name, projection);
    return d === undefined ? notFound(`global context entry "${name}"`) : toCelInput(d);
  }),
];
