/**
 * The JSON context a rule's variables are evaluated against, built once per
 * admission input: `request.*`, `serviceAccountName`/`serviceAccountNamespace`
 * and `images` (computed only when a rule first reads it).
 */
import type { AdmissionInput, JsonObject, JsonValue, KubeObject } from './types.ts';
import type { ContextData } from './variables.ts';
import { extractImagesInfo, imagesContextValue } from '../images/extract.ts';

export function buildRequest(input: AdmissionInput, object: KubeObject | null): JsonObject {
  const { group, version, kind } = input.kind;
  return {
    ...(input.requestExtras ?? {}),
    operation: input.operation,
    object: (object ?? null) as JsonValue,
    oldObject: (input.oldObject ?? null) as JsonValue,
    userInfo: input.userInfo as unknown as JsonValue,
    roles: input.roles,
    clusterRoles: input.clusterRoles,
    namespace: input.namespace ?? object?.metadata?.namespace ?? input.oldObject?.metadata?.namespace ?? '',
    name: input.name ?? object?.metadata?.name ?? input.oldObject?.metadata?.name ?? '',
    kind: { group, version, kind },
    dryRun: input.dryRun ?? false,
    ...(input.subResource ? { subResource: input.subResource } : {}),
  };
}

/** Define `images` lazily: most rules never read it, and extraction parses every image reference. */
export function defineImages(data: ContextData, resource: KubeObject | null): void {
  let cached: JsonValue | undefined;
  let done = false;
  Object.defineProperty(data, 'images', {
    enumerable: true,
    configurable: true,
    get() {
      if (!done) {
        done = true;
        try {
          cached = imagesContextValue(extractImagesInfo(resource)) ?? undefined;
        } catch {
          cached = undefined;
        }
      }
      return cached;
    },
    set(v: JsonValue) {
      done = true;
      cached = v;
    },
  });
}

export function buildContextData(input: AdmissionInput, object: KubeObject | null): ContextData {
  const data: ContextData = { request: buildRequest(input, object) };
  const username = input.userInfo.username ?? '';
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (sa) {
    data.serviceAccountNamespace = sa[1]!;
    data.serviceAccountName = sa[2]!;
  } else {
    data.serviceAccountName = '';
    data.serviceAccountNamespace = '';
  }
  defineImages(data, object ?? input.oldObject);
  return data;
}

/** Set a dotted variable (`request.operation`, `foo.bar`) into the context, creating objects on the way. */
export function setDotted(data: ContextData, dotted: string, value: JsonValue): void {
  const parts = dotted.split('.');
  let cur = data as JsonObject;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i]!;
    const next = cur[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as JsonObject;
  }
  cur[parts[parts.length - 1]!] = value;
}
