/**
 * Compare a Test's expected results with what the engine produced, the way
 * `kyverno test` does:
 * - an expectation names a policy (`name` or `namespace/name`), a rule (also
 *   matched as `autogen-<rule>` and `autogen-cronjob-<rule>`; no rule also
 *   names a ValidatingPolicy's `validation` result), a kind and resources
 *   (`name` or `namespace/name`);
 * - each matching rule response gives one row: success when its status equals
 *   the expected result (and the patched/generated resource equals the
 *   expected file, when one is given);
 * - the policy applied to the resource but no rule response matched: the
 *   resource was excluded — a passing row, whatever was expected;
 * - no response at all (unknown resource or policy, policy failed to load):
 *   a failing "Not found" row;
 * - mutate-existing rules (`targetResources`): a resource may also name a
 *   target some rule patched (by `name` or `namespace/name`, whatever the
 *   row's kind, as Kyverno's printTestResult looks targets up); each policy
 *   response that patched it gives one row, comparing the patched target with
 *   the `patchedResources` file (a file without it: "Resource error") and the
 *   rule status. A row naming no resource covers the triggers and the patched
 *   targets alike.
 * Unlike some Kyverno releases, a `fail` expectation met by a `pass` is a
 * failure, as the Kyverno documentation states.
 */
import type { KubeObject, RuleStatus } from '../../engine/types.ts';
import type { CompiledPolicy } from '../../policy/compile.ts';
import { describeResource, identityOf, resourceDiff, resourcesEqual, withoutGenerateLabels, type ResourceIdentity } from '../resources.ts';
import type { CliRuleResponse, PolicyOutcome, ResourceOutcome } from './evaluate.ts';
import type { ExpectedResult, TestExpectation } from './spec.ts';

export interface ResultRow {
  id: number;
  policy: string;
  rule: string;
  /** `Kind/namespace/name` as the expectation names it. */
  resource: string;
  expected: ExpectedResult;
  /** Status the engine returned for the rule, when there was one. */
  actual?: RuleStatus;
  /** Pass = the expectation held. */
  result: 'Pass' | 'Fail';
  reason: string;
  /** The rule message (or what went wrong). */
  message: string;
  /** How the row is counted in the summary. */
  count: 'pass' | 'skip' | 'fail';
  /** The row passed only because the policy did not apply to the resource. */
  excluded: boolean;
  /** Index of the expectation in the Test's results[] (checks[] rows: -1 - index of the check). */
  expectation: number;
}

/** Loads the resource with the given identity from an expected-resource file (path relative to the Test). */
export type ExpectedResourceLoader = (file: string, id: ResourceIdentity) => Promise<KubeObject | undefined>;

export const REASON_OK = 'Ok';
export const REASON_EXCLUDED = 'Excluded';
export const REASON_NOT_FOUND = 'Not found';

/** `name` or `namespace/name` (Kyverno also accepts the deprecated `namespace` field). */
export function policyMatches(spec: string, policy: CompiledPolicy): boolean {
  const slash = spec.indexOf('/');
  if (slash < 0) return policy.name === spec;
  const ns = spec.slice(0, slash);
  const name = spec.slice(slash + 1);
  if (policy.name !== name) return false;
  return policy.namespace === undefined || policy.namespace === ns;
}

export function ruleMatches(expectation: TestExpectation, ruleName: string, policy?: Pick<CompiledPolicy, 'kind'>): boolean {
  if (expectation.anyRule) return true;
  const r = expectation.rule;
  // A ValidatingPolicy's result is named `validation` (Kyverno's newer engine); before that
  // it was named '', so Test files written then name no rule, and those rows are checked.
  if (r === '' && ruleName === 'validation' && policy && VALIDATING_POLICY_KINDS.has(policy.kind)) return true;
  return ruleName === r || ruleName === `autogen-${r}` || ruleName === `autogen-cronjob-${r}`;
}

const VALIDATING_POLICY_KINDS = new Set(['ValidatingPolicy', 'NamespacedValidatingPolicy']);

/** Does `spec` (`name` or `namespace/name`) with the expectation's kind/namespace name this resource? */
export function resourceMatches(expectation: TestExpectation, spec: string, id: ResourceIdentity): boolean {
  if (expectation.kind !== '' && expectation.kind !== id.kind) return false;
  if (expectation.namespace !== '' && expectation.namespace !== id.namespace) return false;
  const slash = spec.indexOf('/');
  if (slash < 0) return spec === id.name;
  return spec.slice(0, slash) === id.namespace && spec.slice(slash + 1) === id.name;
}

function displayResource(expectation: TestExpectation, spec: string): string {
  return [expectation.kind, expectation.namespace, spec].filter((s) => s !== '').join('/');
}

interface Check {
  ok: boolean;
  reason: string;
  message: string;
  /** The expected-resource file does not describe this resource: no row (Kyverno: "not found in manifest"). */
  skipRow?: boolean;
}

/** A patched target's row: the target as the rule patched it against the file, then the rule status. */
async function checkTarget(exp: TestExpectation, outcome: PolicyOutcome, rule: CliRuleResponse, target: KubeObject,
  load: ExpectedResourceLoader): Promise<Check> {
  if (exp.patchedResource !== '') {
    const c = await compareWithFile(exp.patchedResource, target, load, 'patched');
    if (c) return c.skipRow ? { ok: false, reason: 'Resource error', message: c.message } : c;
  }
  return statusCheck(exp, rule, outcome.policy);
}

const identityKey = (id: ResourceIdentity) => `${id.apiVersion}\0${id.kind}\0${id.namespace}\0${id.name}`;

/** The targets mutate-existing rules patched, once each, in the order first reported. */
function patchedTargets(outcomes: readonly ResourceOutcome[]): ResourceIdentity[] {
  const seen = new Map<string, ResourceIdentity>();
  for (const res of outcomes) {
    for (const o of res.policies) {
      for (const r of o.rules) {
        if (!r.patchedTarget) continue;
        const id = identityOf(r.patchedTarget);
        const key = identityKey(id);
        if (!seen.has(key)) seen.set(key, id);
      }
    }
  }
  return [...seen.values()];
}

/** `name` or `namespace/name` naming a target (its kind is not compared, as in Kyverno). */
function targetMatches(spec: string, id: ResourceIdentity): boolean {
  const slash = spec.indexOf('/');
  if (slash < 0) return spec === id.name;
  return spec.slice(0, slash) === id.namespace && spec.slice(slash + 1) === id.name;
}

async function checkRule(
  exp: TestExpectation,
  outcome: PolicyOutcome,
  resource: ResourceOutcome,
  rule: CliRuleResponse,
  load: ExpectedResourceLoader,
): Promise<Check[]> {
  if (exp.patchedResource !== '') {
    // Mutation: the resource after this policy's mutations; otherwise the resource the rule saw (after all mutations).
    const actual = (rule.type === 'Mutation' ? outcome.patchedResource : resource.patchedResource) ?? resource.resource;
    const c = await compareWithFile(exp.patchedResource, actual, load, 'patched');
    if (c) return [c];
  }
  if (exp.generatedResources.length > 0) {
    const generated = rule.generatedResources ?? [];
    if (generated.length === 0) {
      return [{ ok: false, reason: 'Resource diff', message: 'Generated resource didn\'t match the generated resource in the test result (no resource was generated)' }];
    }
    const checks: Check[] = [];
    for (const g of generated) {
      // Each generated resource is compared with the file that holds it (any of the listed files).
      let c: Check | undefined;
      for (const file of exp.generatedResources) {
        c = await compareWithFile(file, g, load, 'generated');
        if (!c?.skipRow) break;
      }
      c ??= statusCheck(exp, rule, outcome.policy);
      checks.push(c.skipRow ? { ok: false, reason: 'Resource diff', message: 'Generated resource not found in the expected file' } : c);
    }
    return checks;
  }
  return [statusCheck(exp, rule, outcome.policy)];
}

/**
 * The result kyverno test compares: the rule status as a policy report states
 * it — a failure of a policy annotated `policies.kyverno.io/scored: "false"` is
 * reported as `warn`. (An Audit failure stays `fail`.)
 */
export function reportResult(status: RuleStatus, policy: CompiledPolicy): RuleStatus {
  if (status === 'fail' && policy.loaded.raw.metadata?.annotations?.['policies.kyverno.io/scored'] === 'false') return 'warn';
  return status;
}

function statusCheck(exp: TestExpectation, rule: CliRuleResponse, policy: CompiledPolicy): Check {
  const got = reportResult(rule.status, policy);
  if (got !== exp.result) return { ok: false, reason: `Want ${exp.result}, got ${got}`, message: rule.message };
  return { ok: true, reason: REASON_OK, message: rule.message };
}

/** undefined = resources equal (go on with the status check). */
async function compareWithFile(file: string, actual: KubeObject, load: ExpectedResourceLoader, what: 'patched' | 'generated'): Promise<Check | undefined> {
  let expected: KubeObject | undefined;
  try {
    expected = await load(file, identityOf(actual));
  } catch (e) {
    return { ok: false, reason: 'Resource error', message: (e as Error).message };
  }
  if (expected === undefined) return { ok: false, reason: 'Resource error', message: `${describeResource(actual)} not found in manifest`, skipRow: true };
  const [a, e] = [withoutGenerateLabels(actual), withoutGenerateLabels(expected)];
  if (resourcesEqual(a, e)) return undefined;
  const diff = resourceDiff(a, e);
  return {
    ok: false,
    reason: 'Resource diff',
    message: `${what === 'patched' ? 'Patched' : 'Generated'} resource didn't match the ${what} resource in the test result: ${diff.join('; ')}`,
  };
}

type RowBase = Pick<ResultRow, 'policy' | 'rule' | 'resource' | 'expected' | 'expectation'>;

/** The row of one checked rule response. */
function checkedRow(base: RowBase, exp: TestExpectation, rule: CliRuleResponse, outcome: PolicyOutcome, c: Check): Omit<ResultRow, 'id'> {
  return {
    ...base,
    actual: reportResult(rule.status, outcome.policy),
    result: c.ok ? 'Pass' : 'Fail',
    reason: c.reason,
    message: c.message,
    count: c.ok ? (exp.result === 'skip' ? 'skip' : 'pass') : 'fail',
    excluded: false,
  };
}

/** Turn all expectations of one Test into rows (IDs numbered from 1). */
export async function matchExpectations(
  expectations: readonly TestExpectation[],
  outcomes: readonly ResourceOutcome[],
  load: ExpectedResourceLoader,
): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const push = (r: Omit<ResultRow, 'id'>) => rows.push({ id: rows.length + 1, ...r });
  const targets = patchedTargets(outcomes);
  for (const exp of expectations) {
    // No resource named: the expectation covers every resource of its kind, and every patched target.
    const specs = exp.resources.length > 0 ? exp.resources : [...new Set([
      ...outcomes.filter((o) => exp.kind === '' || o.id.kind === exp.kind).map((o) => `${o.id.namespace}/${o.id.name}`),
      ...targets.map((id) => `${id.namespace}/${id.name}`),
    ])];
    for (const spec of specs) {
      const base = { policy: exp.policy, rule: exp.rule, resource: displayResource(exp, spec), expected: exp.result, expectation: exp.index };
      let produced = 0;
      let skippedByFile = false;
      for (const res of outcomes) {
        if (!resourceMatches(exp, spec, res.id)) continue;
        for (const outcome of res.policies) {
          if (!policyMatches(exp.policy, outcome.policy)) continue;
          if (outcome.error !== undefined) {
            push({ ...base, result: 'Fail', reason: 'Engine error', message: outcome.error, count: 'fail', excluded: false });
            produced++;
            continue;
          }
          if (!outcome.applicable) continue;
          let rowsHere = 0;
          for (const rule of outcome.rules) {
            if (!ruleMatches(exp, rule.name, outcome.policy)) continue;
            for (const c of await checkRule(exp, outcome, res, rule, load)) {
              if (c.skipRow) {
                skippedByFile = true;
                continue;
              }
              push(checkedRow(base, exp, rule, outcome, c));
              rowsHere++;
            }
          }
          if (rowsHere === 0 && !skippedByFile) {
            push({ ...base, result: 'Pass', reason: REASON_EXCLUDED, message: REASON_EXCLUDED, count: 'skip', excluded: true });
            rowsHere++;
          }
          produced += rowsHere;
        }
      }
      // Targets of mutate-existing rules this resource names: one row per policy response that patched it.
      for (const target of targets) {
        if (!targetMatches(spec, target)) continue;
        const key = identityKey(target);
        for (const res of outcomes) {
          for (const outcome of res.policies) {
            if (!outcome.applicable || outcome.error !== undefined || !policyMatches(exp.policy, outcome.policy)) continue;
            const rule = outcome.rules.find((r) => r.patchedTarget && identityKey(identityOf(r.patchedTarget)) === key && ruleMatches(exp, r.name, outcome.policy));
            if (!rule) continue;
            const c = await checkTarget(exp, outcome, rule, rule.patchedTarget!, load);
            push(checkedRow(base, exp, rule, outcome, c));
            produced++;
          }
        }
      }
      if (produced === 0 && !skippedByFile) {
        push({ ...base, result: 'Fail', reason: REASON_NOT_FOUND, message: REASON_NOT_FOUND, count: 'fail', excluded: false });
      }
    }
  }
  return rows;
}
