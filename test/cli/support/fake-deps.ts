/**
 * A tiny stand-in for the policy loader and engine, so the CLI's own logic
 * (discovery, values, matching, output, exit codes) is tested independently of
 * the real engine. Fixture "policies" are YAML documents:
 *
 *   kind: ClusterPolicy | Policy
 *   metadata: { name, namespace? }
 *   spec:
 *     validationFailureAction: Enforce | Audit
 *     rules:
 *     - name: r
 *       kinds: [Pod]                 # rule matches only these kinds (absent: all)
 *       autogen: true                # also an autogen-r rule matching Deployment
 *       requireLabel: app            # validate: fail unless metadata.labels.app exists
 *       denyOperation: UPDATE        # validate: fail when the operation is this one
 *       skipUnlessVariable: name     # validate: skip unless this variable is set
 *       addLabel: { k: v }           # mutate: add labels
 *       throws: true                 # the engine throws for this rule
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { CliDeps, EngineLike } from '../../../src/cli/test/deps.ts';
import type { AdmissionInput, JsonObject, KubeObject, RuleResponse } from '../../../src/engine/types.ts';
import type { CompiledPolicy, CompiledRule } from '../../../src/policy/compile.ts';

type FakeRule = {
  name: string;
  kinds?: string[];
  autogen?: boolean;
  requireLabel?: string;
  denyOperation?: string;
  skipUnlessVariable?: string;
  addLabel?: Record<string, string>;
  throws?: boolean;
};

export function fakePolicy(doc: { kind?: string; metadata: { name: string; namespace?: string }; spec: { validationFailureAction?: string; rules: FakeRule[] } }): CompiledPolicy {
  const action = doc.spec.validationFailureAction === 'Enforce' ? 'Enforce' : 'Audit';
  const rules: CompiledRule[] = [];
  for (const r of doc.spec.rules) {
    const type = r.addLabel ? 'Mutation' : 'Validation';
    // Only the fields the CLI reads; the real engine's fields are never touched by the fake engine.
    rules.push({ name: r.name, type, failureAction: action } as unknown as CompiledRule);
    if (r.autogen) rules.push({ name: `autogen-${r.name}`, type, failureAction: action } as unknown as CompiledRule);
  }
  const kind = doc.kind === 'Policy' ? 'Policy' : 'ClusterPolicy';
  const p: CompiledPolicy = {
    name: doc.metadata.name,
    kind,
    loaded: {
      kind,
      name: doc.metadata.name,
      raw: { apiVersion: 'kyverno.io/v1', kind, metadata: { ...doc.metadata }, spec: doc.spec as unknown as JsonObject },
      source: { file: 'fake', index: 0, line: 1 },
    },
    rules,
    validationFailureAction: action,
    background: true,
    failurePolicy: 'Fail',
    applyOne: false,
    scored: true,
    admission: true,
  };
  if (doc.metadata.namespace) p.namespace = doc.metadata.namespace;
  return p;
}

function evaluateRule(rule: FakeRule, name: string, input: AdmissionInput, obj: KubeObject, variables: Record<string, unknown>): RuleResponse | 'nomatch' {
  if (rule.throws) throw new Error(`boom in ${name}`);
  if (rule.skipUnlessVariable && !(rule.skipUnlessVariable in variables)) {
    return { name, type: 'Validation', status: 'skip', message: 'preconditions not met' };
  }
  if (rule.addLabel) return { name, type: 'Mutation', status: 'pass', message: 'mutated' };
  if (rule.denyOperation && input.operation === rule.denyOperation) {
    return { name, type: 'Validation', status: 'fail', message: `${input.operation} is not allowed` };
  }
  if (rule.requireLabel && !obj.metadata?.labels?.[rule.requireLabel]) {
    return { name, type: 'Validation', status: 'fail', message: `validation error: label ${rule.requireLabel} is required` };
  }
  return { name, type: 'Validation', status: 'pass', message: `validation rule '${name}' passed.` };
}

export function fakeEngine(policy: CompiledPolicy): EngineLike {
  const spec = policy.loaded.raw.spec as unknown as { rules: FakeRule[] };
  return {
    async evaluate(input, options) {
      const obj = (input.object ?? input.oldObject)!;
      let current: KubeObject = input.object!;
      const rules: RuleResponse[] = [];
      for (const rule of spec.rules) {
        const isMutate = rule.addLabel !== undefined;
        if (options.mode === 'mutate' && !isMutate) continue;
        if (options.mode === 'validate' && isMutate) continue;
        const variants: { name: string; kinds?: string[] }[] = [{ name: rule.name, kinds: rule.kinds }];
        if (rule.autogen) variants.push({ name: `autogen-${rule.name}`, kinds: ['Deployment'] });
        for (const v of variants) {
          if (v.kinds && !v.kinds.includes(String(obj.kind))) continue;
          const r = evaluateRule(rule, v.name, input, isMutate ? current : obj, options.variables ?? {});
          if (r === 'nomatch') continue;
          if (isMutate && current) {
            current = { ...current, metadata: { ...current.metadata, labels: { ...(current.metadata?.labels ?? {}), ...rule.addLabel } } };
          }
          rules.push(r);
        }
      }
      return { results: rules.length > 0 ? [{ policy, rules, durationMs: 0 }] : [], patchedResource: current ?? null, patches: [] };
    },
  };
}

/** Loader reading fake policy documents from the given files. */
export const fakeDeps: CliDeps = {
  async loadPolicies(paths) {
    const policies: CompiledPolicy[] = [];
    const warnings: string[] = [];
    for (const path of paths) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        warnings.push(`policy ${path}: ${(e as Error).message}`);
        continue;
      }
      for (const d of parseAllDocuments(text)) {
        const v = d.toJS() as Parameters<typeof fakePolicy>[0] | null;
        if (v) policies.push(fakePolicy(v));
      }
    }
    return { policies, warnings };
  },
  createEngine: (policy) => fakeEngine(policy),
};

/** Collects writes for assertions. */
export function capture(): { write(s: string): void; text(): string } {
  let buf = '';
  return {
    write(s: string) {
      buf += s;
    },
    text: () => buf,
  };
}
