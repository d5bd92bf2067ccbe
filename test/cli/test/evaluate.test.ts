import t from 'tap';
import type { EngineLike } from '../../../src/cli/test/deps.ts';
import { PolicyRunner } from '../../../src/cli/test/evaluate.ts';
import { parseValues } from '../../../src/cli/test/spec.ts';
import type { AdmissionInput, JsonValue } from '../../../src/engine/types.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import { fakeEngine, fakePolicy } from '../support/fake-deps.ts';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } };

t.test('mutate policies run in order, each on the previous result; validate sees the mutated resource', async (t) => {
  const seen: { policy: string; mode: string; labels: unknown }[] = [];
  const spy = (p: CompiledPolicy): EngineLike => {
    const real = fakeEngine(p);
    return {
      evaluate: async (input, options) => {
        seen.push({ policy: p.name, mode: options.mode, labels: input.object?.metadata?.labels });
        return real.evaluate(input, options);
      },
    };
  };
  const policies = [
    fakePolicy({ metadata: { name: 'validate-first' }, spec: { rules: [{ name: 'v', requireLabel: 'b' }] } }),
    fakePolicy({ metadata: { name: 'add-a' }, spec: { rules: [{ name: 'm', addLabel: { a: '1' } }] } }),
    fakePolicy({ metadata: { name: 'add-b' }, spec: { rules: [{ name: 'm', addLabel: { b: '2' } }] } }),
  ];
  const runner = new PolicyRunner(policies, { createEngine: spy });
  const out = await runner.evaluate(pod);
  t.same(seen, [
    { policy: 'add-a', mode: 'mutate', labels: undefined },
    { policy: 'add-b', mode: 'mutate', labels: { a: '1' } },
    { policy: 'validate-first', mode: 'validate', labels: { a: '1', b: '2' } },
  ]);
  t.same(out.patchedResource!.metadata!.labels, { a: '1', b: '2' });
  const byName = Object.fromEntries(out.policies.map((p) => [p.policy.name, p]));
  t.same(byName['add-a']!.patchedResource!.metadata!.labels, { a: '1' }, 'per-policy patched resource is cumulative up to that policy');
  t.equal(byName['validate-first']!.rules[0]!.status, 'pass', 'label b added by a later mutate policy is seen by validation');
  t.same(out.resource, pod, 'the original resource is kept');
});

t.test('a policy whose rules match nothing is still applicable (Kyverno emits an empty response)', async (t) => {
  const p = fakePolicy({ metadata: { name: 'deploys-only' }, spec: { rules: [{ name: 'r', kinds: ['Deployment'], requireLabel: 'x' }] } });
  const out = await new PolicyRunner([p], { createEngine: fakeEngine }).evaluate(pod);
  t.equal(out.policies.length, 1);
  t.equal(out.policies[0]!.applicable, true);
  t.same(out.policies[0]!.rules, []);
});

t.test('per-policy variables from Values decide the operation; rule values do not', async (t) => {
  const inputs: { policy: string; variables: Record<string, JsonValue>; input: AdmissionInput }[] = [];
  const spy = (p: CompiledPolicy): EngineLike => ({
    evaluate: async (input, options) => {
      inputs.push({ policy: p.name, variables: options.variables ?? {}, input });
      return { results: [], patchedResource: input.object, patches: [] };
    },
  });
  const values = parseValues({
    globalValues: { g: 1 },
    policies: [
      { name: 'a', resources: [{ name: 'p', values: { 'request.operation': 'DELETE' } }] },
      { name: 'b', rules: [{ name: 'r', values: { 'request.operation': 'UPDATE' } }] },
    ],
    namespaceSelector: [{ name: 'default', labels: { env: 'test' } }],
  });
  const policies = [
    fakePolicy({ metadata: { name: 'a' }, spec: { rules: [{ name: 'r', requireLabel: 'x' }] } }),
    fakePolicy({ metadata: { name: 'b' }, spec: { rules: [{ name: 'r', requireLabel: 'x' }] } }),
  ];
  await new PolicyRunner(policies, { createEngine: spy, values }).evaluate(pod);
  t.same(inputs.map((i) => [i.policy, i.variables, i.input.operation]), [
    ['a', { g: 1, 'request.operation': 'DELETE' }, 'DELETE'],
    ['b', { g: 1 }, 'CREATE'],
    ['b', { g: 1, 'request.operation': 'UPDATE' }, 'CREATE'],
  ]);
  t.equal(inputs[0]!.input.object, null);
  t.same(inputs[1]!.input.namespaceLabels, { env: 'test' });
});

t.test('rule values reach only their rule: each rule response comes from the call with its own values', async (t) => {
  const policy = fakePolicy({ metadata: { name: 'p' }, spec: { rules: [{ name: 'one' }, { name: 'two' }, { name: 'plain' }, { name: 'autogen-one' }] } });
  const echo: EngineLike = {
    evaluate: async (input, options) => ({
      results: [{ policy, durationMs: 0, rules: policy.rules.map((r) => ({ name: r.name, type: 'Validation' as const, status: 'pass' as const, message: String(options.variables?.status ?? 'none') })) }],
      patchedResource: input.object,
      patches: [],
    }),
  };
  const values = parseValues({ policies: [{ name: 'p', rules: [{ name: 'one', values: { status: 'demo' } }, { name: 'two', values: { status: 'protected' } }] }] });
  const out = await new PolicyRunner([policy], { createEngine: () => echo, values }).evaluate(pod);
  t.same(out.policies[0]!.rules.map((r) => [r.name, r.message]), [
    ['one', 'demo'],
    ['two', 'protected'],
    ['plain', 'none'],
    ['autogen-one', 'none'],
  ], 'autogen rules do not get the values of their base rule (exact name lookup, as in Kyverno)');
});

t.test('an engine that throws marks that policy only', async (t) => {
  const policies = [
    fakePolicy({ metadata: { name: 'bad' }, spec: { rules: [{ name: 'r', throws: true }] } }),
    fakePolicy({ metadata: { name: 'good' }, spec: { rules: [{ name: 'r', requireLabel: 'app' }] } }),
  ];
  const out = await new PolicyRunner(policies, { createEngine: fakeEngine }).evaluate(pod);
  t.equal(out.policies[0]!.error, 'boom in r');
  t.equal(out.policies[1]!.error, undefined);
  t.equal(out.policies[1]!.rules[0]!.status, 'fail');
});

t.test('generate-only policies are applicable only when they produced a response', async (t) => {
  const gen = fakePolicy({ metadata: { name: 'gen' }, spec: { rules: [{ name: 'g' }] } });
  gen.rules[0]!.type = 'Generation';
  const respond = (withRule: boolean): EngineLike => ({
    evaluate: async (input) => ({
      results: withRule ? [{ policy: gen, rules: [{ name: 'g', type: 'Generation', status: 'pass', message: 'created' }], durationMs: 0 }] : [],
      patchedResource: input.object,
      patches: [],
    }),
  });
  const yes = await new PolicyRunner([gen], { createEngine: () => respond(true) }).evaluate(pod);
  t.equal(yes.policies[0]!.applicable, true);
  t.equal(yes.policies[0]!.rules.length, 1);
  const no = await new PolicyRunner([gen], { createEngine: () => respond(false) }).evaluate(pod);
  t.equal(no.policies[0]!.applicable, false);
});
