/**
 * Data that Kyverno's context functions (resource.Get/List, image.GetMetadata,
 * globalContext.Get, http.Get/Post) read, and where generator.Apply writes.
 * CEL evaluation is synchronous, so the functions see a provider for the
 * duration of one evaluation:
 *  - `staticContext`: already-answered data (the CLI's Test `Context` file);
 *  - `deferredContext`: the server's per-evaluation provider. A lookup not
 *    answered yet is recorded as pending and fails that evaluation with a
 *    "lookup pending" error; `resolvePending()` then resolves every pending
 *    lookup asynchronously into a memo and the caller evaluates again (the
 *    engine does so up to MAX_LOOKUP_ROUNDS times). A lookup still missing in
 *    the last round fails with a clear error instead.
 */
import type { CelHttpCall, JsonValue, KubeObject } from '../engine/types.ts';
import { resourceOfKind } from './resources.ts';

export interface CelContextProvider {
  getResource?(apiVersion: string, resource: string, namespace: string, name: string): JsonValue | undefined;
  listResources?(apiVersion: string, resource: string, namespace: string): JsonValue;
  imageData?(reference: string): JsonValue | undefined;
  globalContext?(name: string, projection: string): JsonValue | undefined;
  /** http.Get / http.Post: the decoded JSON response body. */
  http?(call: CelHttpCall): JsonValue;
  /**
   * generator.Apply (GeneratingPolicy evaluations only): records the objects to
   * generate; `namespace` is null for the one-argument form (the policy's namespace).
   */
  generate?(namespace: string | null, objects: readonly JsonValue[]): void;
  /** Whether the last evaluation asked lookups that resolvePending would answer (cheap, synchronous). */
  hasPending?(): boolean;
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

/**
 * `base`'s lookups plus a generator.Apply sink, for one GeneratingPolicy
 * evaluation. The lookups stay bound to `base`, so the caller's lookup rounds
 * (hasPending / resolvePending on `base`) see what this evaluation asked.
 */
export function withGenerator(base: CelContextProvider | undefined, generate: NonNullable<CelContextProvider['generate']>): CelContextProvider {
  const out: CelContextProvider = { generate };
  if (base?.getResource) out.getResource = base.getResource.bind(base);
  if (base?.listResources) out.listResources = base.listResources.bind(base);
  if (base?.imageData) out.imageData = base.imageData.bind(base);
  if (base?.globalContext) out.globalContext = base.globalContext.bind(base);
  if (base?.http) out.http = base.http.bind(base);
  return out;
}

/** A provider over in-memory objects and image descriptors (Test-file `Context` data). */
export function staticContext(resources: readonly KubeObject[], images: readonly { image: string; [k: string]: JsonValue }[] = []): CelContextProvider {
  const matches = (o: KubeObject, apiVersion: string, resource: string, namespace: string) =>
    (o.apiVersion ?? '') === apiVersion && resourceOfKind(o.kind ?? '') === resource && (namespace === '' || (o.metadata?.namespace ?? '') === namespace);
  const imageKey = (s: string) => s.replace(/^(docker\.io|index\.docker\.io)\/(library\/)?/, '');
  return {
    getResource: (apiVersion, resource, namespace, name) =>
      resources.find((o) => matches(o, apiVersion, resource, namespace) && o.metadata?.name === name) as JsonValue | undefined,
    listResources: (apiVersion, resource, namespace) =>
      ({ apiVersion: 'v1', kind: 'List', items: resources.filter((o) => matches(o, apiVersion, resource, namespace)) as JsonValue[] }),
    imageData: (ref) => {
      const hit = images.find((i) => i.image === ref || imageKey(i.image) === imageKey(ref));
      return hit as JsonValue | undefined;
    },
    http: (call) => {
      throw new Error(`${call.method} ${call.url} is not available offline: http.${call.method === 'GET' ? 'Get' : 'Post'} reaches the network only in the webhook`);
    },
  };
}

/** One lookup a CEL context function asks for. */
export type Lookup =
  | { kind: 'resource'; apiVersion: string; resource: string; namespace: string; name: string }
  | { kind: 'list'; apiVersion: string; resource: string; namespace: string }
  | { kind: 'image'; reference: string }
  | { kind: 'global'; name: string; projection: string }
  | { kind: 'http'; call: CelHttpCall };

/** Answers a lookup; `undefined` means "does not exist" (resource.Get reports not found). */
export type LookupResolver = (lookup: Lookup) => Promise<JsonValue | undefined>;

/** Re-evaluations after resolving pending lookups (the engine's bound, src/engine/engine.ts). */
export const MAX_LOOKUP_ROUNDS = 4;
/** Lookups one evaluation may leave pending, and answers one provider keeps. */
const MAX_PENDING = 64;
const MAX_MEMO = 512;

/** Start of the message a not-yet-resolved lookup fails its evaluation with. */
export const PENDING_LOOKUP = 'lookup pending: ';

/** Is this error message (CEL errors keep only messages) a pending lookup's? */
export function isPendingLookup(message: string): boolean {
  return message.includes(PENDING_LOOKUP);
}

export function describeLookup(l: Lookup): string {
  const args = (...a: string[]) => a.map((s) => JSON.stringify(s)).join(', ');
  switch (l.kind) {
    case 'resource': return `resource.Get(${args(l.apiVersion, l.resource, l.namespace, l.name)})`;
    case 'list': return `resource.List(${args(l.apiVersion, l.resource, l.namespace)})`;
    case 'image': return `image.GetMetadata(${args(l.reference)})`;
    case 'global': return `globalContext.Get(${args(l.name, l.projection)})`;
    case 'http': return `http.${l.call.method === 'GET' ? 'Get' : 'Post'}(${args(l.call.url)})`;
  }
}

type Answer = { value: JsonValue | undefined } | { error: Error };

/**
 * The webhook's provider: answers from a memo filled by `resolvePending`.
 * Create one per evaluated policy (or rule): the memo is the request's view
 * of the cluster, so every round sees the same answers.
 */
class DeferredContext implements CelContextProvider {
  readonly #resolve: LookupResolver;
  readonly #maxRounds: number;
  #memo: Map<string, Answer> | undefined;
  #pending: Map<string, Lookup> | undefined;
  #rounds = 0;

  constructor(resolve: LookupResolver, maxRounds: number) {
    this.#resolve = resolve;
    this.#maxRounds = maxRounds;
  }

  #ask(l: Lookup): JsonValue | undefined {
    const key = JSON.stringify(l);
    const hit = this.#memo?.get(key);
    if (hit) {
      if ('error' in hit) throw hit.error;
      return hit.value;
    }
    if (this.#rounds >= this.#maxRounds) {
      throw new Error(`${describeLookup(l)} was not resolved: a policy evaluation resolves its lookups in at most ${this.#maxRounds} rounds (each round fetches the lookups the previous evaluation reached)`);
    }
    const pending = (this.#pending ??= new Map());
    if (!pending.has(key)) {
      if (pending.size >= MAX_PENDING || (this.#memo?.size ?? 0) + pending.size >= MAX_MEMO) {
        throw new Error(`${describeLookup(l)}: too many lookups in one policy evaluation (at most ${MAX_PENDING} at once, ${MAX_MEMO} in all)`);
      }
      pending.set(key, l);
    }
    throw new Error(`${PENDING_LOOKUP}${describeLookup(l)}`);
  }

  getResource(apiVersion: string, resource: string, namespace: string, name: string) {
    return this.#ask({ kind: 'resource', apiVersion, resource, namespace, name });
  }
  listResources(apiVersion: string, resource: string, namespace: string) {
    return this.#ask({ kind: 'list', apiVersion, resource, namespace }) ?? null;
  }
  imageData(reference: string) {
    return this.#ask({ kind: 'image', reference });
  }
  globalContext(name: string, projection: string) {
    return this.#ask({ kind: 'global', name, projection });
  }
  http(call: CelHttpCall) {
    return this.#ask({ kind: 'http', call }) ?? null;
  }
  hasPending(): boolean {
    return (this.#pending?.size ?? 0) > 0;
  }

  /**
   * Present only while lookups are pending: the engine checks for the method
   * before awaiting it, so an evaluation that asked nothing costs no promise.
   */
  get resolvePending(): (() => Promise<boolean>) | undefined {
    return this.hasPending() ? this.#resolveAll : undefined;
  }

  readonly #resolveAll = async (): Promise<boolean> => {
    const batch = this.#pending;
    if (!batch || batch.size === 0) return false;
    this.#pending = undefined;
    this.#rounds++;
    const memo = (this.#memo ??= new Map());
    await Promise.all([...batch].map(async ([key, l]) => {
      try {
        memo.set(key, { value: await this.#resolve(l) });
      } catch (e) {
        memo.set(key, { error: e instanceof Error ? e : new Error(String(e)) });
      }
    }));
    return true;
  };
}

export function deferredContext(resolve: LookupResolver, maxRounds = MAX_LOOKUP_ROUNDS): CelContextProvider {
  return new DeferredContext(resolve, maxRounds);
}
