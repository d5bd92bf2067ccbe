/**
 * Mutate-existing rules (`mutate.targets`), offline only: a trigger that
 * matched the rule selects existing objects — the targets — and the rule's
 * patch applies to each of them, not to the trigger. As Kyverno's
 * mutateExistingHandler (pkg/engine/handlers/mutation/mutate_existing.go,
 * load_targets.go):
 * - each `targets[]` entry's apiVersion, kind, namespace, name and selector get
 *   the trigger's variables substituted; a namespaced Policy only reaches its own
 *   namespace; namespace and name are wildcards ('' = any);
 * - per target, `target` is the target object in the JSON context, the entry's
 *   `context` is loaded and its `preconditions` checked (skip when not met);
 * - the rule's patch (patchStrategicMerge, patchesJson6902, foreach) applies to
 *   the target: one result per target, `pass` carrying the patched target;
 * - no target found: no result at all.
 * The webhook never runs these rules (Kyverno mutates existing resources from
 * its background controller).
 */
import type { JsonObject, JsonValue, KubeObject } from '../types.ts';
import type { HandlerResult, RuleEnv, RuleHandler } from './types.ts';
import { substituteVariables, type ContextData } from '../variables.ts';
import { compileLabelSelector } from '../match.ts';
import { matchWildcard } from '../wildcard.ts';
import { compileConditionBlock, loadContextAndCheck, type CompiledConditionBlock } from './preconditions.ts';

const preconditionCache = new WeakMap<object, CompiledConditionBlock>();

function targetPreconditions(spec: JsonObject): CompiledConditionBlock | undefined {
  const block = spec.preconditions;
  if (block === undefined || block === null || typeof block !== 'object') return undefined;
  let c = preconditionCache.get(block);
  if (!c) preconditionCache.set(block, (c = compileConditionBlock(block)));
  return c;
}

/** Kyverno's load_targets.go match(): '' patterns match anything. */
function namespaceAndNameMatch(namespacePattern: string, namePattern: string, namespace: string, name: string): boolean {
  if (namespacePattern === '' && namePattern === '') return true;
  if (namespacePattern === '') return matchWildcard(namePattern, name);
  return matchWildcard(namespacePattern, namespace) && (namePattern === '' || matchWildcard(namePattern, name));
}

const str = (v: JsonValue | undefined) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** The JSON context for one target: the rule's context (getters kept, e.g. lazy `images`) plus `target`. */
function withTarget(data: ContextData, target: KubeObject): ContextData {
  const copy = Object.create(Object.getPrototypeOf(data), Object.getOwnPropertyDescriptors(data)) as ContextData;
  (copy as Record<string, JsonValue>).target = target as unknown as JsonValue;
  return copy;
}

/** The targets one `targets[]` entry selects. */
async function selectTargets(spec: JsonObject, index: number, env: RuleEnv, policyNamespace: string | undefined): Promise<KubeObject[]> {
  let head: JsonObject;
  try {
    head = substituteVariables({
      apiVersion: spec.apiVersion ?? null, kind: spec.kind ?? null, namespace: spec.namespace ?? null, name: spec.name ?? null,
      selector: spec.selector ?? null,
    }, env.data) as JsonObject;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`failed to substitute variables in target[${index}]: ${reason}`);
  }
  const apiVersion = str(head.apiVersion);
  const kind = str(head.kind);
  // A namespaced Policy's targets come from its own namespace only.
  const namespace = policyNamespace ?? str(head.namespace);
  const name = str(head.name);
  const selector = head.selector && typeof head.selector === 'object' && !Array.isArray(head.selector) ? compileLabelSelector(head.selector) : undefined;
  const candidates = env.resolver?.targetResources ? await env.resolver.targetResources(apiVersion, kind) : [];
  return candidates.filter((o) => namespaceAndNameMatch(namespace, name, o.metadata?.namespace ?? '', o.metadata?.name ?? '')
    && (!selector || selector(o.metadata?.labels)));
}

/**
 * Runs a mutate-existing rule for one trigger (its rule-level context and
 * preconditions already passed): one result per target, in `targets[]` order.
 */
export async function runMutateExisting(targets: readonly JsonObject[], handler: RuleHandler, env: RuleEnv,
  policyNamespace: string | undefined): Promise<HandlerResult[]> {
  const out: HandlerResult[] = [];
  for (let i = 0; i < targets.length; i++) {
    const spec = targets[i]!;
    let selected: KubeObject[];
    try {
      selected = await selectTargets(spec, i, env, policyNamespace);
    } catch (err) {
      out.push({ status: 'error', message: (err as Error).message });
      continue;
    }
    const context = Array.isArray(spec.context) ? (spec.context as JsonObject[]) : [];
    for (const target of selected) {
      const data = withTarget(env.data, target);
      const skipped = await loadContextAndCheck(context, targetPreconditions(spec), data, env.resolver, env.pinned, true);
      if (skipped) {
        out.push(skipped);
        continue;
      }
      const r = await handler({ ...env, data, resource: target });
      if (r.status !== 'pass') {
        out.push({ status: r.status, message: r.message, ...(r.path ? { path: r.path } : {}) });
        continue;
      }
      // The trigger is left alone: the patched object is the target's, reported as such.
      out.push({ status: 'pass', message: r.message, ...(r.patches ? { patches: r.patches } : {}), patchedTarget: r.patchedResource ?? target });
    }
  }
  return out;
}
