/** Kubernetes CEL IP/CIDR library (k8s.io/apiserver/pkg/cel/library ip.go, cidr.go), on netip semantics. */
import { isIP } from 'node:net';
import { CelScalar, celFunc, celMethod, type CelFunc } from '@bufbuild/cel';
import { opaqueType, self, wrap } from '../opaque.ts';
import { succeeds } from '../values.ts';

const IPT = opaqueType('IP');
const CIDRT = opaqueType('CIDR');

interface Addr { family: 4 | 6; n: bigint; text: string; toString(): string }
interface Net { addr: Addr; bits: number; text: string; toString(): string }

function toBig(text: string, family: 4 | 6): bigint {
  if (family === 4) return text.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n);
  let [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // embedded IPv4 tail
  const fix = (xs: string[]) => xs.flatMap((x) => (x.includes('.') ? (() => { const v = toBig(x, 4); return [(v >> 16n).toString(16), (v & 0xffffn).toString(16)]; })() : [x]));
  const hh = fix(h);
  const tt = fix(t);
  const groups = tail === undefined ? hh : [...hh, ...Array(8 - hh.length - tt.length).fill('0'), ...tt];
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** netip.Addr.String(): dotted quad, or RFC 5952 (lowercase, longest run of two or more zero groups as `::`). */
function canonical(family: 4 | 6, n: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((sh) => String((n >> sh) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((g) => g.toString(16)).join(':');
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

function fromBig(family: 4 | 6, n: bigint): Addr {
  const text = canonical(family, n);
  return { family, n, text, toString: () => text };
}

function parseAddr(s: string): Addr {
  const f = isIP(s);
  if (f === 0) throw new Error(`IP Address "${s}" parse error during conversion from string`);
  // Kubernetes rejects zones and IPv4-mapped IPv6 addresses.
  if (s.includes('%')) throw new Error(`IP address "${s}" with zone value is not allowed`);
  const n = toBig(s, f as 4 | 6);
  if (f === 6 && n >> 32n === 0xffffn) throw new Error(`IPv4-mapped IPv6 address "${s}" is not allowed`);
  return fromBig(f as 4 | 6, n);
}
function parseNet(s: string): Net {
  const slash = s.lastIndexOf('/');
  const bits = Number(s.slice(slash + 1));
  let addr: Addr | undefined;
  try { addr = slash > 0 ? parseAddr(s.slice(0, slash)) : undefined; } catch { addr = undefined; }
  if (!addr || !/^(0|[1-9]\d*)$/.test(s.slice(slash + 1)) || bits > (addr.family === 4 ? 32 : 128)) {
    throw new Error(`network address parse error during conversion from string: ${s}`);
  }
  return mkNet(addr, bits);
}
function mkNet(addr: Addr, bits: number): Net {
  const text = `${addr.text}/${bits}`;
  return { addr, bits, text, toString: () => text };
}
const width = (f: 4 | 6) => (f === 4 ? 32 : 128);
function contains(net: Net, a: Addr): boolean {
  if (net.addr.family !== a.family) return false;
  const shift = BigInt(width(a.family) - net.bits);
  return net.addr.n >> shift === a.n >> shift;
}
function maskedNet(n: Net): Net {
  const shift = BigInt(width(n.addr.family) - n.bits);
  return mkNet(fromBig(n.addr.family, (n.addr.n >> shift) << shift), n.bits);
}
/**
 * Kubernetes compares this prefix, masked, with the other's address taken
 * unmasked at this prefix length: an other CIDR written with host bits beyond
 * this length (10.1.0.0/16 inside 10.0.0.0/8) is not contained. Kept as is.
 */
function containsNet(outer: Net, inner: Net): boolean {
  if (outer.addr.family !== inner.addr.family) return false;
  return maskedNet(outer).addr.n === inner.addr.n && outer.bits <= inner.bits;
}
const inRange = (a: Addr, family: 4 | 6, prefix: bigint, bits: number) =>
  a.family === family && a.n >> BigInt(width(family) - bits) === prefix;
const ip = (v: unknown) => self<Addr>('IP', v);
const net = (v: unknown) => self<Net>('CIDR', v);
const mkIp = (a: Addr) => wrap('IP', a, `${a.family}:${a.n}`);
const mkCidr = (n: Net) => wrap('CIDR', n, `${n.addr.family}:${n.addr.n}/${n.bits}`);
const isLinkLocalUnicast = (a: Addr) => inRange(a, 4, 0xa9fen, 16) || inRange(a, 6, 0x3fan, 10);
const isMulticast = (a: Addr) => inRange(a, 4, 0xen, 4) || inRange(a, 6, 0xffn, 8);

export const ipFuncs: CelFunc[] = [
  celFunc('ip', [CelScalar.STRING], IPT, (s) => mkIp(parseAddr(s))),
  celFunc('isIP', [CelScalar.STRING], CelScalar.BOOL, (s) => succeeds(() => parseAddr(s))),
  celFunc('cidr', [CelScalar.STRING], CIDRT, (s) => mkCidr(parseNet(s))),
  celFunc('ip.isCanonical', [CelScalar.STRING], CelScalar.BOOL, (s) => parseAddr(s).text === s),
  celFunc('isCIDR', [CelScalar.STRING], CelScalar.BOOL, (s) => succeeds(() => parseNet(s))),
  celFunc('string', [IPT], CelScalar.STRING, (a) => ip(a).text),
  celFunc('string', [CIDRT], CelScalar.STRING, (n) => net(n).text),
  celMethod('family', IPT, [], CelScalar.INT, function () {
    return BigInt(ip(this).family);
  }),
  celMethod('isLoopback', IPT, [], CelScalar.BOOL, function () {
    const a = ip(this);
    return a.family === 4 ? a.n >> 24n === 127n : a.n === 1n;
  }),
  celMethod('isUnspecified', IPT, [], CelScalar.BOOL, function () {
    return ip(this).n === 0n;
  }),
  celMethod('isLinkLocalMulticast', IPT, [], CelScalar.BOOL, function () {
    const a = ip(this);
    return inRange(a, 4, 0xe00000n, 24) || (a.family === 6 && ((a.n >> 112n) & 0xff0fn) === 0xff02n);
  }),
  celMethod('isLinkLocalUnicast', IPT, [], CelScalar.BOOL, function () {
    return isLinkLocalUnicast(ip(this));
  }),
  // netip.Addr.IsGlobalUnicast: not unspecified, loopback, multicast, link-local unicast or the IPv4 broadcast.
  celMethod('isGlobalUnicast', IPT, [], CelScalar.BOOL, function () {
    const a = ip(this);
    if (a.n === 0n || isMulticast(a) || isLinkLocalUnicast(a)) return false;
    if (a.family === 4) return a.n >> 24n !== 127n && a.n !== 0xffffffffn;
    return a.n !== 1n;
  }),
  celMethod('containsIP', CIDRT, [IPT], CelScalar.BOOL, function (a) {
    return contains(net(this), ip(a));
  }),
  celMethod('containsIP', CIDRT, [CelScalar.STRING], CelScalar.BOOL, function (s) {
    return contains(net(this), parseAddr(s));
  }),
  celMethod('containsCIDR', CIDRT, [CIDRT], CelScalar.BOOL, function (o) {
    return containsNet(net(this), net(o));
  }),
  celMethod('containsCIDR', CIDRT, [CelScalar.STRING], CelScalar.BOOL, function (s) {
    return containsNet(net(this), parseNet(s));
  }),
  celMethod('masked', CIDRT, [], CIDRT, function () {
    return mkCidr(maskedNet(net(this)));
  }),
  celMethod('prefixLength', CIDRT, [], CelScalar.INT, function () {
    return BigInt(net(this).bits);
  }),
  celMethod('ip', CIDRT, [], IPT, function () {
    return mkIp(net(this).addr);
  }),
];
