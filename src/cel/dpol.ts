/**
 * policies.kyverno.io DeletingPolicy / NamespacedDeletingPolicy, offline:
 * whether the policy's cleanup run would delete a resource, as Kyverno's CLI
 * reports it (pkg/cel/policies/dpol compiler + engine, and the CLI's
 * applyDeletingPolicies). Kyverno never evaluates these at admission: a
 * cron-scheduled controller lists the matching resources and deletes those
 * for which the policy holds.
 *
 * In order: a namespaced policy sees only resources in its namespace;
 * `matchConstraints` (operations ignored: a deletion scan has no admission
 * operation; a JSON payload without apiVersion/kind skips them); CEL
 * PolicyExceptions naming the policy (one whose matchConditions all hold
 * spares the resource); then `conditions`, all of which must be true.
 * `variables` are lazy. Out of scope or unmatched: no result (the CLI's row is
 * excluded). Otherwise one result named after the policy: pass "resource
 * matched" (would be deleted), fail "resource did not match" (kept), or error
 * with the evaluation error. `schedule` and `deletionPropagationPolicy` only
 * matter to a cluster.
 */
import type { CelInput, CelValue } from '@bufbuild/cel';
import type { AdmissionInput, JsonObject, JsonValue } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import type { CompiledExpression } from './env.ts';
import { exceptionsNaming } from './exceptions.ts';
import { compileMatchConstraints } from './match-constraints.ts';
import { allConditionsHold, compileList, compileVariables, LazyVariables } from './program.ts';
import { toCelInput } from './values.ts';
import { namespaceInScope, namespaceObjectFor, policyDocument, type VpolEvalOptions } from './vpol.ts';
import { obj } from './json-shapes.ts';

export interface DpolResult {
  /** The policy name. */
  rule: string;
  status: 'pass' | 'fail' | 'error';
  message: string;
}

export interface CompiledDeletingPolicy {
  name: string;
  namespace?: string;
  kind: string;
  /** Cron schedule of the cleanup runs (a cluster's concern; required by the CRD). */
  schedule: string;
  deletionPropagationPolicy?: string;
  /** No result when the resource is outside the policy's namespace or matchConstraints. */
  evaluate(input: AdmissionInput, opts?: VpolEvalOptions): DpolResult[];
}

/**
 * The dpol CEL environment declares these; `oldObject` and `request` are
 * declared but never bound (a cleanup run has no request), so reading them is
 * an evaluation error there too. `params` and `authorizer` do not compile.
 */
const DPOL_VARIABLES = ['object', 'oldObject', 'request', 'namespaceObject', 'variables'] as const;


/** Kyverno's dpol engine matches with the operations of every (exclude) resource rule set to `*`. */
function withoutOperations(mc: JsonObject | undefined): JsonObject | undefined {
  if (!mc) return undefined;
  const out: JsonObject = { ...mc };
  for (const key of ['resourceRules', 'excludeResourceRules']) {
    const rules = mc[key];
    if (Array.isArray(rules)) out[key] = rules.map((r) => ({ ...obj(r), operations: ['*'] }));
  }
  return out;
}

/** cel-go's ConvertToNative(bool) wording for a condition of another type. */
function celTypeName(v: CelValue): string {
  if (v === null) return 'null_type';
  switch (typeof v) {
    case 'string': return 'string';
    case 'bigint': return 'int';
    case 'number': return 'double';
    default: return Array.isArray(v) ? 'list' : v instanceof Uint8Array ? 'bytes' : v instanceof Map ? 'map' : typeof v;
  }
}

/**
 * Kyverno's dpol `match`: a false condition wins over errors in the others;
 * otherwise errors (joined as multierr joins them) fail the evaluation.
 */
/** An exception whose matchConditions all hold spares the resource; every exception is evaluated, an error in any fails. */
const notBool = (_condition: unknown, v: CelValue) => `type conversion error from '${celTypeName(v)}' to 'bool'`;

function excepted(exceptions: readonly { conditions: { expr: CompiledExpression }[] }[], bindings: Record<string, CelInput>, ctx: CelContextProvider | undefined): boolean {
  let any = false;
  for (const e of exceptions) if (allConditionsHold(e.conditions, bindings, ctx, notBool)) any = true;
  return any;
}

/** The matchConditions of the exceptions naming this policy, compiled in the dpol environment. */
function compileExceptions(policyName: string, kind: string, exceptions: readonly JsonObject[]): { conditions: { expr: CompiledExpression }[] }[] {
  return exceptionsNaming(policyName, kind, exceptions).map((e) => ({
    conditions: compileList(obj(e.spec)?.matchConditions, `PolicyException ${String(obj(e.metadata)?.name)}: spec.matchConditions`, 'expression', DPOL_VARIABLES),
  }));
}

/** `exceptions`: policies.kyverno.io PolicyException documents (those referencing this policy are used). */
export function compileDeletingPolicy(doc: JsonObject, exceptions: readonly JsonObject[] = []): CompiledDeletingPolicy {
  const { kind, name, namespace, spec } = policyDocument(doc, 'DeletingPolicy');
  // The CRD requires it; checked here too for documents that bypass the schema check.
  if (typeof spec.schedule !== 'string') throw new Error('spec.schedule: Required value');
  const matches = compileMatchConstraints(withoutOperations(obj(spec.matchConstraints)));
  const conditions = compileList(spec.conditions, 'spec.conditions', 'expression', DPOL_VARIABLES);
  const variables = compileVariables(spec.variables, 'spec.variables', DPOL_VARIABLES);
  const polex = compileExceptions(name, kind, exceptions);

  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    kind,
    schedule: spec.schedule,
    ...(typeof spec.deletionPropagationPolicy === 'string' ? { deletionPropagationPolicy: spec.deletionPropagationPolicy } : {}),
    evaluate(input, opts = {}) {
      const ns = namespaceInScope(input, namespace);
      if (ns === null) return [];
      const object = input.object ?? input.oldObject;
      // A JSON payload (no apiVersion/kind) is evaluated without matchConstraints.
      if (object?.apiVersion && object.kind && !matches({ ...input, object })) return [];
      const ctx = opts.context;
      let bindings: Record<string, CelInput>;
      const vars = new LazyVariables(variables, () => bindings, ctx);
      bindings = {
        object: toCelInput(object as JsonValue),
        namespaceObject: toCelInput(namespaceObjectFor(input, ns, opts)),
        variables: vars,
      };
      try {
        const held = !(polex.length > 0 && excepted(polex, bindings, ctx)) && allConditionsHold(conditions, bindings, ctx, notBool);
        return [held ? { rule: name, status: 'pass', message: 'resource matched' } : { rule: name, status: 'fail', message: 'resource did not match' }];
      } catch (e) {
        return [{ rule: name, status: 'error', message: (e as Error).message }];
      }
    },
  };
}
