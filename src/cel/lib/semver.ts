/** Kubernetes CEL semver library: semver(), isSemver, major/minor/patch, compareTo, isLessThan, isGreaterThan. */
import { CelScalar, celFunc, celMethod, type CelFunc } from '@bufbuild/cel';
import { opaqueType, self, wrap } from '../opaque.ts';
import { succeeds } from '../values.ts';

const S = opaqueType('Semver');
interface Ver { major: bigint; minor: bigint; patch: bigint; pre: string[]; text: string; toString(): string }

const re = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

function parse(s: string, normalize: boolean): Ver {
  let t = s;
  if (normalize) {
    t = t.replace(/^v/, '');
    const core = t.split(/[-+]/, 1)[0]!;
    const parts = core.split('.');
    while (parts.length < 3) parts.push('0');
    t = parts.map((p) => p.replace(/^0+(?=\d)/, '')).join('.') + t.slice(core.length);
  }
  const m = re.exec(t);
  if (!m) throw new Error(`could not parse '${s}' as semver`);
  return { major: BigInt(m[1]!), minor: BigInt(m[2]!), patch: BigInt(m[3]!), pre: m[4] ? m[4].split('.') : [], text: t, toString: () => t };
}

function cmp(a: Ver, b: Ver): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length === 0 ? 0 : a.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return BigInt(x) < BigInt(y) ? -1 : 1;
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return Math.sign(a.pre.length - b.pre.length);
}
const me = (v: unknown) => self<Ver>('Semver', v);
const make = (v: Ver) => wrap('Semver', v, v.text);

export const semverFuncs: CelFunc[] = [
  celFunc('semver', [CelScalar.STRING], S, (s) => make(parse(s, false))),
  celFunc('semver', [CelScalar.STRING, CelScalar.BOOL], S, (s, n) => make(parse(s, n))),
  celFunc('isSemver', [CelScalar.STRING], CelScalar.BOOL, (s) => succeeds(() => parse(s, false))),
  celFunc('isSemver', [CelScalar.STRING, CelScalar.BOOL], CelScalar.BOOL, (s, n) => succeeds(() => parse(s, n))),
  celMethod('major', S, [], CelScalar.INT, function () {
    return me(this).major;
  }),
  celMethod('minor', S, [], CelScalar.INT, function () {
    return me(this).minor;
  }),
  celMethod('patch', S, [], CelScalar.INT, function () {
    return me(this).patch;
  }),
  celMethod('compareTo', S, [S], CelScalar.INT, function (o) {
    return BigInt(cmp(me(this), me(o)));
  }),
  celMethod('isLessThan', S, [S], CelScalar.BOOL, function (o) {
    return cmp(me(this), me(o)) < 0;
  }),
  celMethod('isGreaterThan', S, [S], CelScalar.BOOL, function (o) {
    return cmp(me(this), me(o)) > 0;
  }),
];
