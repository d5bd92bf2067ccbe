/**
 * What CEL evaluation needs from the outside: the namespace object of the
 * request and the lookups behind resource.* / image.* / globalContext.* /
 * http.* calls.
 *  - Offline (the resolver carries Test-file `celLookups`): one static
 *    provider per resolver.
 *  - Otherwise, when the resolver can answer lookups asynchronously (the
 *    webhook's ServerResolver): a fresh deferred provider per evaluation,
 *    whose pending lookups `resolvePending` maps to the resolver — resource.*
 *    to API server GETs, image.GetMetadata to imageData, globalContext.Get to
 *    globalContext, http.* to httpCall — before the caller evaluates again.
 */
import type { AdmissionInput, ContextResolver, JsonValue } from './types.ts';
import { deferredContext, staticContext, type CelContextProvider, type Lookup } from '../cel/context.ts';

const contexts = new WeakMap<ContextResolver, CelContextProvider>();

export function celContextFor(resolver: ContextResolver | undefined): CelContextProvider | undefined {
  if (!resolver) return undefined;
  if (resolver.celLookups) {
    let c = contexts.get(resolver);
    if (!c) contexts.set(resolver, (c = staticContext(resolver.celLookups.resources, resolver.celLookups.images)));
    return c;
  }
  if (!resolver.kubeGet && !resolver.apiCall && !resolver.globalContext && !resolver.imageData && !resolver.httpCall) return undefined;
  return deferredContext((lookup) => resolveLookup(resolver, lookup));
}

/**
 * Runs a synchronous CEL evaluation with lookup rounds: while the provider has
 * pending lookups, resolve them and evaluate again (at most `rounds` times).
 * Synchronous (no promise) when nothing is pending, the common case.
 */
export function withLookupRounds<T>(ctx: CelContextProvider | undefined, run: () => T, rounds = 4): T | Promise<T> {
  const first = run();
  if (!ctx?.hasPending?.() || !ctx.resolvePending) return first;
  return (async () => {
    let out = first;
    for (let i = 0; i < rounds && ctx.resolvePending; i++) {
      if (!(await ctx.resolvePending())) break;
      out = run();
    }
    return out;
  })();
}

// API path segments: no separators, dot segments or escapes that could leave the intended path.
const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;
const RESOURCE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SEGMENT = /^[^/\\?#%\s]+$/;

function segment(what: string, v: string): string {
  if (!SEGMENT.test(v) || v === '.' || v === '..') throw new Error(`invalid ${what} ${JSON.stringify(v)}`);
  return v;
}

/** `/api/v1/namespaces/NS/pods/NAME`, `/apis/G/V/RES`…; namespace '' = cluster-scoped (or all namespaces for a list). */
export function resourcePath(apiVersion: string, resource: string, namespace: string, name?: string): string {
  if (!API_VERSION.test(apiVersion)) throw new Error(`invalid apiVersion ${JSON.stringify(apiVersion)}`);
  if (!RESOURCE.test(resource)) throw new Error(`invalid resource ${JSON.stringify(resource)}`);
  let path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  if (namespace !== '') path += `/namespaces/${segment('namespace', namespace)}`;
  path += `/${resource}`;
  if (name !== undefined) path += `/${segment('name', name)}`;
  return path;
}

async function kubeGet(resolver: ContextResolver, path: string): Promise<JsonValue | undefined> {
  if (resolver.kubeGet) return resolver.kubeGet(path);
  if (resolver.apiCall) return resolver.apiCall({ urlPath: path, method: 'GET' });
  throw new Error(`cannot read ${path}: no Kubernetes API server here`);
}

async function resolveLookup(resolver: ContextResolver, l: Lookup): Promise<JsonValue | undefined> {
  switch (l.kind) {
    case 'resource':
      return kubeGet(resolver, resourcePath(l.apiVersion, l.resource, l.namespace, l.name));
    case 'list': {
      const list = await kubeGet(resolver, resourcePath(l.apiVersion, l.resource, l.namespace));
      if (list === undefined) throw new Error('the server could not find the requested resource');
      return list;
    }
    case 'image':
      if (!resolver.imageData) throw new Error(`image data for ${l.reference} cannot be fetched here`);
      return resolver.imageData(l.reference);
    case 'global':
      if (!resolver.globalContext) throw new Error(`global context entry ${l.name} cannot be resolved here`);
      return l.projection ? resolver.globalContext(l.name, l.projection) : resolver.globalContext(l.name);
    case 'http':
      if (!resolver.httpCall) throw new Error(`${l.call.method} ${l.call.url} is not available here: CEL http calls reach the network only in the webhook (serve --cel-http-allow)`);
      return resolver.httpCall(l.call);
  }
}

/** `namespaceObject`: the request's Namespace (name and labels known to the caller); null for cluster-scoped requests. */
export function namespaceObjectOf(input: AdmissionInput): JsonValue {
  if (input.namespaceObject) return input.namespaceObject as JsonValue;
  const ns = input.namespace ?? input.object?.metadata?.namespace ?? input.oldObject?.metadata?.namespace ?? '';
  if (!ns) return null;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...(input.namespaceLabels ? { labels: input.namespaceLabels } : {}) } };
}
