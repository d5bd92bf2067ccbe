/**
 * What CEL evaluation needs from the outside: the namespace object of the
 * request and the lookups behind resource.* / image.* / globalContext.* calls,
 * built once per resolver from the data it offers.
 */
import type { AdmissionInput, ContextResolver, JsonValue } from './types.ts';
import { staticContext, type CelContextProvider } from '../cel/index.ts';

const contexts = new WeakMap<ContextResolver, CelContextProvider>();

export function celContextFor(resolver: ContextResolver | undefined): CelContextProvider | undefined {
  if (!resolver?.celLookups) return undefined;
  let c = contexts.get(resolver);
  if (!c) contexts.set(resolver, (c = staticContext(resolver.celLookups.resources, resolver.celLookups.images)));
  return c;
}

/** `namespaceObject`: the request's Namespace (name and labels known to the caller); null for cluster-scoped requests. */
export function namespaceObjectOf(input: AdmissionInput): JsonValue {
  if (input.namespaceObject) return input.namespaceObject as JsonValue;
  const ns = input.namespace ?? input.object?.metadata?.namespace ?? input.oldObject?.metadata?.namespace ?? '';
  if (!ns) return null;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...(input.namespaceLabels ? { labels: input.namespaceLabels } : {}) } };
}
