/**
 * Kyverno's CEL `http` library: `http.Get(url)`, `http.Get(url, headers)`,
 * `http.Post(url, body)`, `http.Post(url, body, headers)`, each returning the
 * decoded JSON response body (non-2xx → `request failed: HTTP 404 Not Found`).
 * The functions read the current CelContextProvider (offline: a clear error;
 * the webhook: a deferred lookup answered by src/server/cel-http.ts's `httpCaller`,
 * which refuses everything the operator did not allow).
 */
import { CelScalar, celFunc, type CelFunc, type CelInput } from '@bufbuild/cel';
import type { CelHttpCall, JsonValue } from '../../engine/types.ts';
import { currentContext, isPendingLookup } from '../context.ts';
import { toCelInput, toJson } from '../values.ts';

const DYN = CelScalar.DYN;
const STR = CelScalar.STRING;

function headersOf(v: CelInput | undefined): Record<string, string> {
  if (v === undefined) return {};
  const h = toJson(v as never);
  if (h === null) return {};
  if (typeof h !== 'object' || Array.isArray(h)) throw new Error('headers must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(h)) {
    if (typeof x !== 'string') throw new Error(`header ${JSON.stringify(k)} must be a string`);
    out[k] = x;
  }
  return out;
}

function request(call: CelHttpCall): CelInput {
  const ctx = currentContext();
  try {
    if (!ctx.http) throw new Error(`http.${call.method === 'GET' ? 'Get' : 'Post'} is not available here`);
    return toCelInput(ctx.http(call));
  } catch (e) {
    const message = (e as Error).message;
    if (isPendingLookup(message)) throw e;
    throw new Error(`request failed: ${message}`);
  }
}

export const httpFuncs: CelFunc[] = [
  celFunc('http.Get', [STR], DYN, (url) => request({ method: 'GET', url, headers: {} })),
  celFunc('http.Get', [STR, DYN], DYN, (url, headers) => request({ method: 'GET', url, headers: headersOf(headers) })),
  celFunc('http.Post', [STR, DYN], DYN, (url, body) => request({ method: 'POST', url, headers: {}, body: toJson(body as never) })),
  celFunc('http.Post', [STR, DYN, DYN], DYN, (url, body, headers) =>
    request({ method: 'POST', url, headers: headersOf(headers), body: toJson(body as never) })),
];
