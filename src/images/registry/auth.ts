/**
 * Registry authentication: parse `WWW-Authenticate` challenges and run the
 * Docker token flow (GET realm?service=…&scope=…, basic credentials when
 * known, or an OAuth2 refresh token via POST). Tokens are cached per
 * host+scope until shortly before they expire.
 */
import type { Credential } from './credentials.ts';

export interface Challenge {
  scheme: string; // lower-case: 'bearer' | 'basic' | …
  params: Record<string, string>;
}

/** Parse one or more challenges: `Bearer realm="x",service="y",scope="a,b"`, `Basic realm="r"`. */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (!header) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  let i = 0;
  const n = text.length;
  const skipWs = () => { while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++; };
  while (i < n) {
    skipWs();
    const start = i;
    while (i < n && /[A-Za-z0-9!#$%&'*+.^_`|~-]/.test(text[i])) i++;
    if (i === start) { i++; continue; }
    const scheme = text.slice(start, i).toLowerCase();
    const params: Record<string, string> = {};
    // params: key=value or key="quoted", separated by commas, until the next scheme token
    for (;;) {
      skipWs();
      const ks = i;
      while (i < n && /[A-Za-z0-9_-]/.test(text[i])) i++;
      const key = text.slice(ks, i);
      if (!key || text[i] !== '=') { i = ks; break; }
      i++; // '='
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          value += text[i++];
        }
        i++; // closing quote
      } else {
        const vs = i;
        while (i < n && text[i] !== ',' && text[i] !== ' ') i++;
        value = text.slice(vs, i);
      }
      params[key.toLowerCase()] = value;
    }
    out.push({ scheme, params });
  }
  return out;
}

export function basicAuthorization(cred: Credential): string | undefined {
  if (cred.username === undefined && cred.password === undefined) return undefined;
  return 'Basic ' + Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64');
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Small bounded token cache (host|scope → token). */
export class TokenCache {
  private readonly map = new Map<string, CachedToken>();
  private readonly max: number;
  constructor(max = 1000) {
    this.max = max;
  }
  get(key: string, now = Date.now()): string | undefined {
    const t = this.map.get(key);
    if (!t) return undefined;
    if (t.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    return t.token;
  }
  set(key: string, token: string, ttlSeconds: number, now = Date.now()): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    // Refresh 10 s early so a token does not expire mid-request.
    this.map.set(key, { token, expiresAt: now + Math.max(1, ttlSeconds - 10) * 1000 });
  }
  clear(): void {
    this.map.clear();
  }
}

/** Build the token endpoint URL for a bearer challenge. */
export function tokenUrl(challenge: Challenge, scopes: string[]): URL {
  const realm = challenge.params.realm;
  if (!realm) throw new Error('bearer challenge without realm');
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  return url;
}
