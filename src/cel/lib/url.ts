/** Kubernetes CEL URL library: url(), isURL, getScheme/getHost/getHostname/getPort/getEscapedPath/getQuery. */
import { CelScalar, celFunc, celMethod, listType, mapType, type CelFunc } from '@bufbuild/cel';
import { opaqueType, self, wrap } from '../opaque.ts';

const U = opaqueType('URL');

function parseUrl(s: string): URL {
  // Kubernetes requires an absolute URI or an absolute path.
  if (s.startsWith('/')) return new URL(s, 'relative:///');
  return new URL(s);
}
const me = (v: unknown) => self<{ raw: string; u: URL }>('URL', v);
const relative = (u: URL) => u.protocol === 'relative:';

export const urlFuncs: CelFunc[] = [
  celFunc('url', [CelScalar.STRING], U, (s) => {
    let u: URL;
    try {
      u = parseUrl(s);
    } catch {
      throw new Error(`URL parse error during conversion from string: ${s}`);
    }
    return wrap('URL', { raw: s, u, toString: () => s }, s);
  }),
  celFunc('isURL', [CelScalar.STRING], CelScalar.BOOL, (s) => {
    try {
      parseUrl(s);
      return true;
    } catch {
      return false;
    }
  }),
  celMethod('getScheme', U, [], CelScalar.STRING, function () {
    const { u } = me(this);
    return relative(u) ? '' : u.protocol.replace(/:$/, '');
  }),
  celMethod('getHost', U, [], CelScalar.STRING, function () {
    return me(this).u.host;
  }),
  celMethod('getHostname', U, [], CelScalar.STRING, function () {
    return me(this).u.hostname.replace(/^\[|\]$/g, '');
  }),
  celMethod('getPort', U, [], CelScalar.STRING, function () {
    return me(this).u.port;
  }),
  celMethod('getEscapedPath', U, [], CelScalar.STRING, function () {
    return me(this).u.pathname;
  }),
  celMethod('getQuery', U, [], mapType(CelScalar.STRING, listType(CelScalar.STRING)), function () {
    const m = new Map<string, string[]>();
    for (const [k, v] of me(this).u.searchParams) m.set(k, [...(m.get(k) ?? []), v]);
    return m;
  }),
];
