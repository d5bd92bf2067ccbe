/**
 * Data that Kyverno's context functions (resource.Get/List, image.GetMetadata,
 * globalContext.Get, http.*) read. CEL evaluation is synchronous, so callers
 * supply an already-answered provider (the CLI builds one from the Test
 * file's Context data); the functions see it for the duration of one evaluation.
 */
import type { JsonValue, KubeObject } from '../engine/types.ts';
import { resourceOfKind } from './resources.ts';

export interface CelContextProvider {
  getResource?(apiVersion: string, resource: string, namespace: string, name: string): JsonValue | undefined;
  listResources?(apiVersion: string, resource: string, namespace: string): JsonValue[];
  imageData?(reference: string): JsonValue | undefined;
  globalContext?(name: string, projection: string): JsonValue | undefined;
  /**
   * Resolves the lookups asked during the last evaluation that could not be answered
   * synchronously; true when any was resolved (the engine then evaluates again).
   */
  resolvePending?(): Promise<boolean>;
}

let current: CelContextProvider | undefined;

export function withContext<T>(provider: CelContextProvider | undefined, fn: () => T): T {
  const prev = current;
  current = provider;
  try {
    return fn();
  } finally {
    current = prev;
  }
}

export function currentContext(): CelContextProvider {
  return current ?? {};
}

/** A provider over in-memory objects and image descriptors (Test-file `Context` data). */
export function staticContext(resources: readonly KubeObject[], images: readonly { image: string; [k: string]: JsonValue }[] = []): CelContextProvider {
  const matches = (o: KubeObject, apiVersion: string, resource: string, namespace: string) =>
    (o.apiVersion ?? '') === apiVersion && resourceOfKind(o.kind ?? '') === resource && (namespace === '' || (o.metadata?.namespace ?? '') === namespace);
  const imageKey = (s: string) => s.replace(/^(docker\.io|index\.docker\.io)\/(library\/)?/, '');
  return {
    getResource: (apiVersion, resource, namespace, name) =>
      resources.find((o) => matches(o, apiVersion, resource, namespace) && o.metadata?.name === name) as JsonValue | undefined,
    listResources: (apiVersion, resource, namespace) => resources.filter((o) => matches(o, apiVersion, resource, namespace)) as JsonValue[],
    imageData: (ref) => {
      const hit = images.find((i) => i.image === ref || imageKey(i.image) === imageKey(ref));
      return hit as JsonValue | undefined;
    },
  };
}
