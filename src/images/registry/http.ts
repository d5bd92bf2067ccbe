/**
 * Minimal HTTP(S) transport for registry calls over node:http/node:https:
 * keep-alive agents (one per CA bundle), a per-attempt timeout, an optional
 * caller deadline (AbortSignal), a body size cap, and manual redirects so that
 * credentials are never forwarded to another origin (blob storage redirects).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { http } from '../../util/node-http.ts';
import https from 'node:https';
import tls from 'node:tls';
import { RegistryError, fromSocketError } from './errors.ts';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Final URL after redirects. */
  url: string;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  body?: string;
  url: string;
  headers?: Record<string, string>;
  /** Per-attempt timeout (ms). */
  timeoutMs: number;
  /** Overall deadline from the caller. */
  signal?: AbortSignal;
  /** Largest body accepted (bytes). */
  maxBytes: number;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | string[];
  /** Skip TLS certificate verification (Kyverno `allowInsecureRegistry`). */
  insecure?: boolean;
  /** Follow redirects (GET of blobs); credentials are dropped when the origin changes. */
  followRedirects?: boolean;
  /** Label for error messages, e.g. `fetching manifest of ghcr.io/a/b:1`. */
  what: string;
}

const MAX_REDIRECTS = 5;
const agents = new Map<string, https.Agent>();
let httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function httpsAgent(ca: string | string[] | undefined, insecure = false): https.Agent {
  const key = (insecure ? 'insecure|' : '') + (ca === undefined ? '' : Array.isArray(ca) ? ca.join('\n') : ca);
  let agent = agents.get(key);
  if (!agent) {
    // Extra CAs are added to (not substituted for) the public roots.
    const extra = ca === undefined ? undefined : [...(Array.isArray(ca) ? ca : [ca])];
    agent = new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      ca: extra ? [...tlsRootCertificates(), ...extra] : undefined,
      rejectUnauthorized: !insecure,
    });
    agents.set(key, agent);
  }
  return agent;
}

function tlsRootCertificates(): readonly string[] {
  return tls.rootCertificates;
}

export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  let headers = { ...(req.headers ?? {}) };
  const origin = new URL(url).origin;
  for (let hop = 0; ; hop++) {
    const res = await once({ ...req, url, headers });
    const location = res.headers.location;
    if (req.followRedirects && res.status >= 300 && res.status < 400 && res.status !== 304 && location) {
      if (hop >= MAX_REDIRECTS) throw new RegistryError('protocol', `${req.what}: too many redirects`, { url });
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new RegistryError('protocol', `${req.what}: refusing redirect to ${next.protocol} URL`, { url });
      }
      if (next.origin !== origin) {
        // Blob storage URLs carry their own (signed) authorization.
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      url = next.toString();
      continue;
    }
    return res;
  }
}

function once(req: HttpRequest & { headers: Record<string, string> }): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      r.destroy();
      reject(err instanceof RegistryError ? err : fromSocketError(err, req.url, req.what));
    };
    const u = new URL(req.url);
    const isHttps = u.protocol === 'https:';
    const options: https.RequestOptions = {
      method: req.method,
      headers: { 'user-agent': 'portcullis', ...req.headers },
      agent: isHttps ? httpsAgent(req.ca, req.insecure) : httpAgent,
    };
    const r = (isHttps ? https : http).request(u, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (req.method !== 'HEAD' && Number.isFinite(declared) && declared > req.maxBytes && (res.statusCode ?? 0) < 300) {
        fail(new RegistryError('too-large', `${req.what}: response of ${declared} bytes exceeds the ${req.maxBytes}-byte limit`, { url: req.url }));
        return;
      }
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > req.maxBytes) {
          fail(new RegistryError('too-large', `${req.what}: response exceeds the ${req.maxBytes}-byte limit`, { url: req.url }));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url: req.url });
      });
      res.on('error', fail);
    });
    r.on('error', fail);
    const timer = setTimeout(() => {
      const e = new Error('timeout');
      e.name = 'TimeoutError';
      fail(e);
    }, req.timeoutMs);
    const onAbort = () => {
      const e = new Error('aborted');
      e.name = 'AbortError';
      fail(e);
    };
    if (req.signal?.aborted) { onAbort(); return; }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    r.end(req.body);
  });
}

/** Drop pooled connections (tests, shutdown). */
export function closeHttpAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
  httpAgent.destroy();
  httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
}
