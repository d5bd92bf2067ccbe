/**
 * The webhook's outbound client for CEL `http.Get` / `http.Post` (src/cel/lib/http.ts).
 * Reaching arbitrary URLs from policies is an SSRF vector, so it is off unless the
 * operator allows URL prefixes (`serve --cel-http-allow`); every request (and every
 * same-origin redirect) is checked against them on the parsed URL, with a timeout
 * and a response size limit. Kept apart from the CEL library so the server loads
 * the CEL runtime only when a policy needs it.
 */
import { http } from '../util/node-http.ts';
import type { CelHttpCall, JsonValue } from '../engine/types.ts';

export interface CelHttpOptions {
  /** URL prefixes policies may reach, e.g. `https://api.example.com/v1/`. Empty: http.* is off. */
  allow: readonly string[];
  /** Whole-request timeout in ms (default 5000). */
  timeoutMs?: number;
  /** Largest response body read, in bytes (default 1 MiB). */
  maxBytes?: number;
  /** Same-origin redirects followed (default 3). */
  maxRedirects?: number;
}

interface AllowRule { origin: string; path: string }

/** Parse and check the operator's prefixes once: absolute http(s) URLs, no credentials, query or fragment. */
export function parseAllowPrefixes(prefixes: readonly string[]): AllowRule[] {
  return prefixes.map((p) => {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new Error(`invalid CEL http allow prefix ${JSON.stringify(p)}: not an absolute URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`invalid CEL http allow prefix ${JSON.stringify(p)}: only http and https URLs`);
    if (u.username || u.password || u.search || u.hash) throw new Error(`invalid CEL http allow prefix ${JSON.stringify(p)}: no credentials, query or fragment`);
    return { origin: u.origin, path: u.pathname };
  });
}

/**
 * Is the (parsed, so dot segments are already resolved) URL under a prefix?
 * Origins compare exactly; a prefix path ending without `/` covers itself and
 * what is below it, never a sibling (`/v1` does not allow `/v10`).
 */
function allowed(u: URL, rules: readonly AllowRule[]): boolean {
  return rules.some((r) => {
    if (u.origin !== r.origin) return false;
    if (r.path === '/' || u.pathname === r.path) return true;
    return u.pathname.startsWith(r.path.endsWith('/') ? r.path : `${r.path}/`);
  });
}

// Headers a policy may not set: they would change where or how the request goes.
const FORBIDDEN_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'te', 'trailer', 'keep-alive']);

/** The webhook's http.* implementation; every call is checked against `options.allow`. */
export function httpCaller(options: CelHttpOptions): (call: CelHttpCall) => Promise<JsonValue> {
  const rules = parseAllowPrefixes(options.allow);
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 3;

  const check = (raw: string): URL => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Error(`invalid URL ${JSON.stringify(raw)}`);
    }
    if (rules.length === 0) throw new Error(`${u.origin}${u.pathname} is not allowed: CEL http calls are disabled (allow URL prefixes with --cel-http-allow)`);
    if (u.username || u.password) throw new Error('URLs with credentials are not allowed');
    if (!allowed(u, rules)) throw new Error(`${u.origin}${u.pathname} is not allowed by the server's CEL http allow list`);
    return u;
  };

  return async (call) => {
    let url = check(call.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.headers)) {
      if (FORBIDDEN_HEADERS.has(k.toLowerCase())) throw new Error(`header ${JSON.stringify(k)} may not be set`);
      headers[k] = v;
    }
    const body = call.method === 'POST' ? JSON.stringify(call.body ?? null) : undefined;
    if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      for (let hops = 0; ; hops++) {
        const res = await fetch(url, { method: call.method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual', signal });
        if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
          await res.body?.cancel();
          if (hops >= maxRedirects) throw new Error(`too many redirects (more than ${maxRedirects})`);
          const next = new URL(res.headers.get('location')!, url);
          // Only to the same origin, and only where the allow list permits.
          if (next.origin !== url.origin) throw new Error(`redirect to another host (${next.origin}) refused`);
          url = check(next.href);
          continue;
        }
        if (res.status < 200 || res.status >= 300) {
          await res.body?.cancel();
          throw new Error(`HTTP ${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trimEnd());
        }
        const text = await readLimited(res, maxBytes);
        try {
          return JSON.parse(text) as JsonValue;
        } catch (e) {
          throw new Error(`Unable to decode JSON body ${(e as Error).message}`);
        }
      }
    } catch (e) {
      if (signal.aborted) throw new Error(`${call.method} ${url.origin}${url.pathname} timed out after ${timeoutMs} ms`);
      throw e;
    }
  };
}

async function readLimited(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new Error(`response exceeds ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > maxBytes) throw new Error(`response exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
