/**
 * Kyverno's CEL `generator` library (GeneratingPolicy): `generator.Apply(namespace,
 * [objects])`, and for namespaced policies `generator.Apply([objects])` into the
 * policy's own namespace (`generator.apply` is the same function). The call hands
 * the objects to the current CelContextProvider's `generate` sink and returns true.
 *
 * `GeneratedResources` is that sink offline, as Kyverno's CLI context provider
 * does it (pkg/cel/libs GenerateResources with cliEvaluation): List objects are
 * expanded into their items; each object gets the target namespace (none for a
 * cluster-scoped kind) and loses uid, resourceVersion, creationTimestamp,
 * managedFields and annotations; nothing is created, and no generate labels are
 * added.
 */
import { CelScalar, celFunc, listType, type CelFunc, type CelList } from '@bufbuild/cel';
import type { JsonObject, JsonValue, KubeObject } from '../../engine/types.ts';
import { currentContext } from '../context.ts';
import { isClusterScopedKind } from '../resources.ts';
import { toJson } from '../values.ts';
import { isObj } from '../json-shapes.ts';

const LIST = listType(CelScalar.DYN);
const STR = CelScalar.STRING;


function applyGenerator(namespace: string | null, list: CelList): boolean {
  const sink = currentContext().generate;
  if (!sink) throw new Error('generator.Apply is only available in a GeneratingPolicy');
  sink(namespace, [...list].map((x) => toJson(x)));
  return true;
}

export const generatorFuncs: CelFunc[] = ['generator.Apply', 'generator.apply'].flatMap((name) => [
  celFunc(name, [STR, LIST], CelScalar.BOOL, (namespace, list) => applyGenerator(namespace, list)),
  celFunc(name, [LIST], CelScalar.BOOL, (list) => applyGenerator(null, list)),
]);

const DROPPED_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'annotations'];

/** The objects one GeneratingPolicy evaluation generates. */
export class GeneratedResources {
  readonly items: KubeObject[] = [];
  /** Set for NamespacedGeneratingPolicy: everything goes into this namespace. */
  readonly #policyNamespace: string | undefined;

  constructor(policyNamespace: string | undefined) {
    this.#policyNamespace = policyNamespace;
  }

  /** generator.Apply: a namespaced policy generates into its own namespace only. */
  apply(namespace: string | null, objects: readonly JsonValue[]): void {
    const own = this.#policyNamespace;
    if (namespace === null) {
      if (own === undefined) throw new Error('generator.Apply needs a namespace argument outside a NamespacedGeneratingPolicy');
      namespace = own;
    } else if (own !== undefined && namespace !== own) {
      throw new Error(`cross-namespace generation denied: policy in "${own}" cannot generate into "${namespace}"`);
    }
    this.add(namespace, objects);
  }

  /**
   * Adds objects for `namespace` (Kyverno's GenerateResources). The objects are
   * the caller's to give away (fresh from toJson or a template render): only
   * their top level and metadata are copied.
   */
  add(namespace: string, objects: readonly JsonValue[]): void {
    for (const data of objects) {
      if (!isObj(data)) throw new Error(`failed to generate resources: expected an object, got ${JSON.stringify(data)}`);
      const items = Array.isArray(data.items) ? data.items : [data];
      for (const item of items) {
        if (!isObj(item)) throw new Error(`failed to generate resources: expected an object in items, got ${JSON.stringify(item)}`);
        this.items.push(this.#shape(item, namespace));
      }
    }
  }

  #shape(item: JsonObject, namespace: string): KubeObject {
    const apiVersion = typeof item.apiVersion === 'string' ? item.apiVersion : '';
    const kind = typeof item.kind === 'string' ? item.kind : '';
    let target = namespace;
    if (isClusterScopedKind(kind, apiVersion)) {
      // A namespaced policy's scope is its namespace: a cluster-scoped object would escape it.
      if (namespace !== '' && this.#policyNamespace !== undefined) {
        throw new Error(`failed to generate resources: cross-scope generation denied: a policy scoped to namespace "${namespace}" cannot generate cluster-scoped resource ${apiVersion}/${kind}`);
      }
      target = '';
    }
    const meta: JsonObject = isObj(item.metadata) ? { ...item.metadata } : {};
    for (const k of DROPPED_METADATA) delete meta[k];
    if (target === '') delete meta.namespace;
    else meta.namespace = target;
    return { ...item, metadata: meta } as KubeObject;
  }
}
