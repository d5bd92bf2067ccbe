/**
 * One request to the Kubernetes API server (GET/POST of JSON), over the access
 * settings of config.ts: bounded response size, a timeout, keep-alive
 * connections, and paths that cannot leave the API server.
 */
import { http } from '../util/node-http.ts';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { JsonValue } from '../engine/types.ts';
import { loadKubeAccess, type KubeAccessOptions, type KubeRequestOptions } from './config.ts';

export interface KubeRequest {
  method: 'GET' | 'POST';
  /** API path with optional query, e.g. `/api/v1/namespaces/default/configmaps/x`. */
  path: string;
  body?: JsonValue;
}

export interface KubeResponse {
  status: number;
  body: Buffer;
}

/** One request to the API server. */
export type KubeTransport = (req: KubeRequest) => Promise<KubeResponse>;

export interface KubeTransportOptions extends KubeAccessOptions {
  timeoutMs?: number;
}

/** API answers larger than this are refused (a ConfigMap is at most 1 MiB). */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Only absolute API paths: no scheme, host, `.`/`..` segments or backslashes that could leave the server. */
export function isSafeApiPath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !path.includes('\\') && !/(^|\/)\.\.?(\/|\?|$)/.test(path);
}

export async function kubeTransport(options: KubeTransportOptions = {}): Promise<KubeTransport> {
  const access = await loadKubeAccess(options);
  const base = access.server;
  const prefix = base.pathname.replace(/\/$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const secure = base.protocol !== 'http:';
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 16 }) : new http.Agent({ keepAlive: true, maxSockets: 16 });
  return async ({ method, path, body }) => {
    if (!isSafeApiPath(path)) throw new Error(`invalid API path ${path}`);
    const url = new URL(base.origin + prefix + path);
    if (url.origin !== base.origin) throw new Error(`invalid API path ${path}`);
    const opts: KubeRequestOptions = { method, headers: { accept: 'application/json' }, timeout: timeoutMs, agent };
    // Credentials are applied per request (token files rotate); connections are kept alive.
    await access.apply(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) { opts.headers['content-type'] = 'application/json'; opts.headers['content-length'] = String(payload.length); }
    const send = secure ? httpsRequest : http.request;
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) { req.destroy(new Error(`response of ${path} exceeds ${MAX_RESPONSE_BYTES} bytes`)); return; }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`request to ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
}
