/**
 * policies.kyverno.io GeneratingPolicy / NamespacedGeneratingPolicy, offline:
 * the resources a policy would generate for a trigger, as Kyverno's CLI reports
 * them (pkg/cel/policies/gpol compiler + engine). In order: a namespaced policy
 * sees only triggers in its namespace; matchConstraints; CEL PolicyExceptions
 * (rule `exception`, skip or pass); matchConditions (a false one: no result at
 * all, as Kyverno's engine returns none); then each `generate[]` entry — an
 * `expression` calling `generator.Apply(namespace, [objects])`, or a YAML
 * `template` (gpol-template.ts) whose documents are generated into their own
 * metadata.namespace (a namespaced policy's namespace when unset; any other is
 * denied). `variables` are lazy and shared by all entries.
 *
 * Results carry Kyverno's rule name, the policy name: pass "policy evaluated
 * successfully" with the generated objects (none is still a pass), or error
 * "failed to evaluate policy: …". Nothing is created; `synchronize` and
 * `useServerSideApply` only matter to a cluster.
 */
import type { CelInput } from '@bufbuild/cel';
import type { AdmissionInput, JsonObject, JsonValue, KubeObject } from '../engine/types.ts';
import { withGenerator, type CelContextProvider } from './context.ts';
import { CelCompileError, compileExpression, type CompiledExpression } from './env.ts';
import { compileExceptionsFor, exceptionResult } from './exceptions.ts';
import { compileTemplate, type CompiledTemplate } from './gpol-template.ts';
import { GeneratedResources } from './lib/generator.ts';
import { compileMatchConstraints } from './match-constraints.ts';
import { allConditionsHold, CelPolicyCompileError, celErrorText, compileList, compileVariables, LazyVariables } from './program.ts';
import { toCelInput } from './values.ts';
import { namespaceInScope, namespaceObjectFor, policyDocument, requestOf, type VpolEvalOptions } from './vpol.ts';
import { obj } from './json-shapes.ts';

export interface GpolResult {
  /** The policy name, or `exception`. */
  rule: string;
  status: 'pass' | 'skip' | 'error';
  message: string;
  /** pass: the objects the policy generates for this trigger. */
  generated?: KubeObject[];
}

export interface CompiledGeneratingPolicy {
  name: string;
  namespace?: string;
  kind: string;
  /** No result when the trigger is out of scope or matchConditions are not met. */
  evaluate(input: AdmissionInput, opts?: VpolEvalOptions): GpolResult[];
}

type Generation = { expression: CompiledExpression } | { template: CompiledTemplate };


function compileGenerations(list: JsonValue | undefined): Generation[] {
  return (Array.isArray(list) ? list : []).map((raw, i): Generation => {
    const g = obj(raw) ?? {};
    const hasExpression = typeof g.expression === 'string' && g.expression !== '';
    const template = obj(g.template);
    if (hasExpression && template) throw new Error(`spec.generate[${i}]: Invalid value: only one of expression or template can be set`);
    if (!hasExpression && !template) throw new Error(`spec.generate[${i}]: Required value: one of expression or template must be set`);
    if (template) {
      const value = typeof template.value === 'string' ? template.value : '';
      try {
        return { template: compileTemplate(value, template.interpolate === 'cel') };
      } catch (e) {
        throw new Error(`spec.generate[${i}].template.value: Invalid value: ${JSON.stringify(value)}: ${(e as Error).message}`);
      }
    }
    try {
      return { expression: compileExpression(g.expression as string) };
    } catch (e) {
      if (e instanceof CelCompileError) throw new CelPolicyCompileError('spec.generate', i, e);
      throw e;
    }
  });
}

/** Template documents, grouped by target namespace in first-seen order (Kyverno's applyTemplate). */
function applyTemplate(template: CompiledTemplate, bindings: Record<string, CelInput>, ctx: CelContextProvider,
  policyNamespace: string | undefined, out: GeneratedResources): void {
  let docs: JsonObject[];
  try {
    docs = template.render(bindings, ctx);
  } catch (e) {
    throw new Error(`failed to render generation template: ${(e as Error).message}`);
  }
  const groups = new Map<string, JsonObject[]>();
  for (const doc of docs) {
    let ns = String(obj(doc.metadata)?.namespace ?? '');
    if (policyNamespace !== undefined) {
      if (ns === '') ns = policyNamespace;
      else if (ns !== policyNamespace) {
        throw new Error(`cross-namespace generation denied: a policy in namespace "${policyNamespace}" cannot generate resources into namespace "${ns}"`);
      }
    }
    const group = groups.get(ns);
    if (group) group.push(doc);
    else groups.set(ns, [doc]);
  }
  for (const [ns, group] of groups) out.add(ns, group);
}

/** `exceptions`: policies.kyverno.io PolicyException documents (those referencing this policy are used). */
export function compileGeneratingPolicy(doc: JsonObject, exceptions: readonly JsonObject[] = []): CompiledGeneratingPolicy {
  const { kind, name, namespace, spec } = policyDocument(doc, 'GeneratingPolicy');
  const polex = compileExceptionsFor(name, kind, exceptions);
  const matches = compileMatchConstraints(obj(spec.matchConstraints));
  const matchConditions = compileList(spec.matchConditions, 'spec.matchConditions');
  const variables = compileVariables(spec.variables, 'spec.variables');
  const generations = compileGenerations(spec.generate);

  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    kind,
    evaluate(input, opts = {}) {
      const ns = namespaceInScope(input, namespace);
      if (ns === null || !matches(input)) return [];
      const out = new GeneratedResources(namespace);
      const ctx = withGenerator(opts.context, (target, objects) => out.apply(target, objects));
      let bindings: Record<string, CelInput>;
      const vars = new LazyVariables(variables, () => bindings, ctx);
      bindings = {
        object: toCelInput(input.object as JsonValue),
        oldObject: toCelInput(input.oldObject as JsonValue),
        request: toCelInput(requestOf(input, opts.request)),
        namespaceObject: toCelInput(namespaceObjectFor(input, ns, opts)),
        params: null,
        authorizer: null,
        variables: vars,
      };
      try {
        const ex = polex.length > 0 ? exceptionResult(polex, bindings, ctx) : undefined;
        if (ex) return [{ rule: 'exception', status: ex.status, message: ex.message }];
        if (!allConditionsHold(matchConditions, bindings, ctx, (c) => `matchCondition '${String(c.entry.name ?? '')}' must return bool`)) return [];
        for (const g of generations) {
          if ('template' in g) applyTemplate(g.template, bindings, ctx, namespace, out);
          else g.expression.evaluate(bindings, ctx);
        }
      } catch (e) {
        return [{ rule: name, status: 'error', message: `failed to evaluate policy: ${celErrorText((e as Error).message)}` }];
      }
      return [{ rule: name, status: 'pass', message: 'policy evaluated successfully', generated: out.items }];
    },
  };
}
