/** Kubernetes CEL IP/CIDR library: ip(), cidr(), isIP, isCIDR, family, containsIP, prefixLength… */
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

function parseAddr(s: string): Addr {
  const f = isIP(s);
  // Kubernetes rejects zones and IPv4-mapped IPv6 in ip().
  if (f === 0 || s.includes('%')) throw new Error(`IP Address '${s}' parse error during conversion from string`);
  return { family: f as 4 | 6, n: toBig(s, f as 4 | 6), text: s, toString: () => s };
}
function parseNet(s: string): Net {
  const slash = s.lastIndexOf('/');
  const bits = Number(s.slice(slash + 1));
  const addr = slash > 0 ? parseAddr(s.slice(0, slash)) : undefined;
  if (!addr || !/^\d+$/.test(s.slice(slash + 1)) || bits > (addr.family === 4 ? 32 : 128)) {
    throw new Error(`network address parse error during conversion from string: ${s}`);
  }
  return { addr, bits, text: s, toString: () => s };
}
const width = (f: 4 | 6) => (f === 4 ? 32 : 128);
function contains(net: Net, a: Addr): boolean {
  if (net.addr.family !== a.family) return false;
  const shift = BigInt(width(a.family) - net.bits);
  return net.addr.n >> shift === a.n >> shift;
}
const ip = (v: unknown) => self<Addr>('IP', v);
const net = (v: unknown) => self<Net>('CIDR', v);
const mkIp = (a: Addr) => wrap('IP', a, `${a.family}:${a.n}`);

export const ipFuncs: CelFunc[] = [
  celFunc('ip', [CelScalar.STRING], IPT, (s) => mkIp(parseAddr(s))),
  celFunc('isIP', [CelScalar.STRING], CelScalar.BOOL, (s) => succeeds(() => parseAddr(s))),
  celFunc('cidr', [CelScalar.STRING], CIDRT, (s) => {
    const n = parseNet(s);
    return wrap('CIDR', n, `${n.addr.family}:${n.addr.n}/${n.bits}`);
  }),
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
  celMethod('containsIP', CIDRT, [IPT], CelScalar.BOOL, function (a) {
    return contains(net(this), ip(a));
  }),
  celMethod('containsIP', CIDRT, [CelScalar.STRING], CelScalar.BOOL, function (s) {
    return contains(net(this), parseAddr(s));
  }),
  celMethod('containsCIDR', CIDRT, [CIDRT], CelScalar.BOOL, function (o) {
    const other = net(o);
    return other.bits >= net(this).bits && contains(net(this), other.addr);
  }),
  celMethod('containsCIDR', CIDRT, [CelScalar.STRING], CelScalar.BOOL, function (s) {
    const other = parseNet(s);
    return other.bits >= net(this).bits && contains(net(this), other.addr);
  }),
  celMethod('prefixLength', CIDRT, [], CelScalar.INT, function () {
    return BigInt(net(this).bits);
  }),
  celMethod('ip', CIDRT, [], IPT, function () {
    return mkIp(net(this).addr);
  }),
];
