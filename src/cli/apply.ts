/**
 * `portcullis apply POLICY… --resource FILE…` — Kyverno's `kyverno apply`
 * offline: mutate then validate every resource, print failures per policy
 * and resource, the mutated resources, and the `pass: … skip: …` summary.
 * Exit code 1 when an Enforce rule failed or a rule errored, or on bad input.
 */
import { writeFile } from 'node:fs/promises';
import { parseCommand, type Output } from './args.ts';
import { stringify } from 'yaml';
import type { JsonValue, KubeObject, RuleStatus } from '../engine/types.ts';
import { defaultDeps, type CliDeps } from './test/deps.ts';
import { identityOf, loadResourceFiles, removeDuplicates, resourcesEqual } from './resources.ts';
import { readYamlFile } from './test/discover.ts';
import { PolicyRunner, type ResourceOutcome } from './test/evaluate.ts';
import { offlineResolver } from './test/run.ts';
import { parseUserInfo, parseValues, type RequestUserInfo, type ValuesSpec } from './test/spec.ts';

export type { Output } from './args.ts';

export const APPLY_USAGE = `Usage: portcullis apply POLICY_PATH... --resource FILE... [flags]

Applies policies to resource files offline (mutate, then validate) and prints the results.

Flags:
  -r, --resource PATH        resource file or directory (repeatable)
  -f, --values-file PATH     Kyverno CLI Values file (variables, namespace labels)
  -u, --userinfo PATH        Kyverno CLI UserInfo file
  -s, --set K=V,...          variables, e.g. request.operation=UPDATE
  -o, --output PATH          write the mutated resources (YAML) to PATH instead of printing them
      --detailed-results     also list passing, skipped and warning rules
      --json                 print a JSON report
  -h, --help                 show this help
`;

interface RuleLine {
  policy: string;
  rule: string;
  resource: string;
  status: RuleStatus;
  message: string;
  failureAction: 'Enforce' | 'Audit';
}

/** `namespace/Kind/name`, the way kyverno apply names resources. */
function applyResourceName(obj: KubeObject): string {
  const id = identityOf(obj);
  return [id.namespace, id.kind, id.name].filter((s) => s !== '').join('/');
}

/** `a=b,c=d` → variables (values stay strings, as in Kyverno). */
export function parseSetFlag(values: readonly string[]): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const v of values) {
    for (const pair of v.split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
  }
  return out;
}

export async function runApplyCommand(argv: readonly string[], out: Output = process.stdout, deps?: CliDeps): Promise<number> {
  const parsed = parseCommand(argv, {
    resource: { type: 'string', short: 'r', multiple: true },
    'values-file': { type: 'string', short: 'f' },
    userinfo: { type: 'string', short: 'u' },
    set: { type: 'string', short: 's', multiple: true },
    output: { type: 'string', short: 'o' },
    'detailed-results': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, APPLY_USAGE, out, 1);
  if (typeof parsed === 'number') return parsed;
  const f = parsed.values;
  const resourcePaths = f.resource ?? [];
  if (parsed.positionals.length === 0 || resourcePaths.length === 0) {
    out.write(`Error: ${parsed.positionals.length === 0 ? 'require policy' : 'require resource (--resource)'}\n\n${APPLY_USAGE}`);
    return 1;
  }

  let values: ValuesSpec | undefined;
  let userInfo: RequestUserInfo | undefined;
  try {
    if (f['values-file']) values = parseValues(await readYamlFile(f['values-file']));
    if (f.userinfo) userInfo = parseUserInfo(await readYamlFile(f.userinfo));
  } catch (e) {
    out.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
  const setVars = parseSetFlag(f.set ?? []);
  if (Object.keys(setVars).length > 0) {
    values ??= { globalValues: {}, policies: [], namespaceLabels: new Map(), subresources: [] };
    values = { ...values, globalValues: { ...values.globalValues, ...setVars } };
  }

  const d = deps ?? (await defaultDeps());
  const loaded = await d.loadPolicies(parsed.positionals);
  for (const w of loaded.warnings) out.write(`warning: ${w}\n`);
  if (loaded.policies.length === 0) {
    out.write('Error: no valid policy found\n');
    return 1;
  }
  const res = await loadResourceFiles(resourcePaths);
  if (res.errors.length > 0) {
    for (const e of res.errors) out.write(`Error: failed to load resources: ${e.file}: ${e.reason}\n`);
    return 1;
  }
  const { uniques } = removeDuplicates(res.resources);

  const runner = new PolicyRunner(loaded.policies, { values, userInfo, resolver: offlineResolver, createEngine: d.createEngine });
  const outcomes: ResourceOutcome[] = [];
  for (const r of uniques) outcomes.push(await runner.evaluate(r));

  const lines: RuleLine[] = [];
  const engineErrors: string[] = [];
  for (const o of outcomes) {
    for (const p of o.policies) {
      if (p.error !== undefined) engineErrors.push(`policy ${p.policy.name} -> resource ${applyResourceName(o.resource)}: ${p.error}`);
      for (const rule of p.rules) {
        const compiled = p.policy.rules.find((r) => r.name === rule.name);
        lines.push({
          policy: p.policy.name,
          rule: rule.name,
          resource: applyResourceName(o.resource),
          status: rule.status,
          message: rule.message,
          failureAction: compiled?.failureAction ?? p.policy.validationFailureAction,
        });
      }
    }
  }
  const counts: Record<RuleStatus, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const l of lines) counts[l.status]++;
  counts.error += engineErrors.length;
  const enforceFailures = lines.filter((l) => l.status === 'fail' && l.failureAction === 'Enforce').length;
  const exitCode = enforceFailures > 0 || counts.error > 0 ? 1 : 0;
  const mutated = outcomes.filter((o) => o.patchedResource !== null && !resourcesEqual(o.patchedResource, o.resource));

  if (f.output) {
    const docs = mutated.map((o) => stringify(o.patchedResource)).join('---\n');
    await writeFile(f.output, docs);
  }
  if (f.json) {
    out.write(
      JSON.stringify(
        {
          summary: counts,
          results: lines,
          errors: engineErrors,
          mutatedResources: f.output ? [] : mutated.map((o) => o.patchedResource),
        },
        null,
        2,
      ) + '\n',
    );
    return exitCode;
  }

  const ruleCount = loaded.policies.reduce((n, p) => n + p.rules.length, 0);
  out.write(`\nApplying ${ruleCount} policy rule(s) to ${uniques.length} resource(s)...\n`);
  if (!f.output) {
    for (const o of mutated) {
      const pols = o.policies.filter((p) => p.rules.some((r) => r.type === 'Mutation' && r.status === 'pass')).map((p) => p.policy.name);
      out.write(`\nmutate policy ${pols.join(', ')} applied to ${applyResourceName(o.resource)}:\n${stringify(o.patchedResource)}---\n`);
    }
  }
  // Failures grouped by policy and resource, as kyverno apply prints them.
  const groups = new Map<string, RuleLine[]>();
  for (const l of lines) {
    if (l.status !== 'fail' && l.status !== 'error' && !(f['detailed-results'] && l.status !== 'pass')) continue;
    const key = `${l.policy}\u0000${l.resource}`;
    const g = groups.get(key) ?? [];
    g.push(l);
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    const first = g[0]!;
    const verb = g.some((l) => l.status === 'fail' || l.status === 'error') ? 'failed' : 'reported';
    out.write(`\npolicy ${first.policy} -> resource ${first.resource} ${verb}:\n`);
    g.forEach((l, i) => out.write(`${i + 1}. ${l.rule}: ${l.status === 'fail' ? '' : `[${l.status}] `}${l.message}\n`));
  }
  if (f['detailed-results']) {
    const passed = lines.filter((l) => l.status === 'pass');
    if (passed.length > 0) out.write('\npassed:\n' + passed.map((l) => `  ${l.policy}/${l.rule} -> ${l.resource}\n`).join(''));
  }
  for (const e of engineErrors) out.write(`\nerror: ${e}\n`);
  out.write(`\npass: ${counts.pass}, fail: ${counts.fail}, warn: ${counts.warn}, error: ${counts.error}, skip: ${counts.skip} \n`);
  return exitCode;
}
