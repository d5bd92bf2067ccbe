/**
 * Server-side CEL lookups: the deferred provider records lookups it cannot
 * answer yet, resolvePending answers them through the ContextResolver, and the
 * engine evaluates the policy again — for ValidatingPolicies and for
 * validate.cel rules in kyverno.io/v1 policies. Kyverno's wording for
 * absent objects; a clear error when lookups chain deeper than the rounds allow.
 */
import t from 'tap';
import { parsePolicyText } from '../../src/policy/load.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { Engine } from '../../src/engine/engine.ts';
import { celContextFor, resourcePath, withLookupRounds } from '../../src/engine/cel-context.ts';
import { compileExpression } from '../../src/cel/env.ts';
import { deferredContext, isPendingLookup, staticContext, type Lookup } from '../../src/cel/context.ts';
import { toJson } from '../../src/cel/values.ts';
import type { AdmissionInput, ContextResolver, JsonValue, KubeObject } from '../../src/engine/types.ts';

const pod = (name: string, labels: Record<string, string> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });

const input = (object: KubeObject): AdmissionInput => ({
  operation: 'CREATE', object, oldObject: null, kind: { group: '', version: 'v1', kind: object.kind! },
  namespace: object.metadata?.namespace ?? '', userInfo: { username: 'alice' }, roles: [], clusterRoles: [],
});

/** An API server in memory: objects by path, and the paths asked. */
function fakeCluster(objects: Record<string, JsonValue>) {
  const asked: string[] = [];
  const resolver: ContextResolver = {
    kubeGet: async (path) => {
      asked.push(path);
      return objects[path];
    },
  };
  return { resolver, asked };
}

function engineFor(yaml: string, resolver: ContextResolver): Engine {
  const loaded = parsePolicyText(yaml, 'test.yaml');
  if (loaded.errors.length) throw new Error(JSON.stringify(loaded.errors));
  const { policies, errors } = compilePolicies(loaded.policies);
  if (errors.length) throw new Error(JSON.stringify(errors));
  return new Engine(policies, { resolver });
}

const vpol = (expression: string, variables = '') => `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: team-allowed}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
${variables}  validations:
  - expression: "${expression}"
    message: team not allowed
`;

const teams: JsonValue = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'teams', namespace: 'default' }, data: { allowed: 'red,blue' } };

t.test('resourcePath builds API paths and refuses segments that could leave them', async (t) => {
  t.equal(resourcePath('v1', 'pods', 'ns', 'p'), '/api/v1/namespaces/ns/pods/p');
  t.equal(resourcePath('apps/v1', 'deployments', 'ns'), '/apis/apps/v1/namespaces/ns/deployments');
  t.equal(resourcePath('v1', 'namespaces', '', 'kube-system'), '/api/v1/namespaces/kube-system');
  t.equal(resourcePath('rbac.authorization.k8s.io/v1', 'clusterroles', '', 'system:node'), '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node');
  t.throws(() => resourcePath('v1', 'pods', 'ns', '../../secrets'), /invalid name/);
  t.throws(() => resourcePath('v1', 'pods', '..', 'x'), /invalid namespace/);
  t.throws(() => resourcePath('v1', 'pods', 'ns', 'a?b'), /invalid name/);
  t.throws(() => resourcePath('../v1', 'pods', 'ns', 'x'), /invalid apiVersion/);
  t.throws(() => resourcePath('v1', 'pods/exec', 'ns', 'x'), /invalid resource/);
});

t.test('the deferred provider: pending, resolved in a round, then answered from the memo', async (t) => {
  const asked: Lookup[] = [];
  const ctx = deferredContext(async (l) => {
    asked.push(l);
    return l.kind === 'resource' && l.name === 'teams' ? teams : undefined;
  });
  const expr = compileExpression("resource.Get('v1', 'configmaps', 'default', 'teams').data.allowed");
  t.equal(ctx.hasPending!(), false);
  t.equal(ctx.resolvePending, undefined, 'nothing pending: the engine finds no method to await');
  const err = t.throws(() => expr.evaluate({}, ctx)) as Error;
  t.ok(isPendingLookup(err.message), err.message);
  t.equal(ctx.hasPending!(), true);
  t.equal(await ctx.resolvePending!(), true);
  t.same(asked, [{ kind: 'resource', apiVersion: 'v1', resource: 'configmaps', namespace: 'default', name: 'teams' }]);
  t.equal(expr.evaluate({}, ctx), 'red,blue');
  t.equal(ctx.hasPending!(), false, 'answered from the memo');

  const missing = compileExpression("resource.Get('apps/v1', 'deployments', 'default', 'nope')");
  t.throws(() => missing.evaluate({}, ctx));
  await ctx.resolvePending!();
  t.throws(() => missing.evaluate({}, ctx), /^failed to get resource: deployments\.apps "nope" not found$/, "Kubernetes' NotFound wording");
  t.equal(asked.length, 2, 'each lookup resolved once');
});

t.test('a lookup error is memoised and reported with Kyverno\'s prefix', async (t) => {
  const ctx = deferredContext(async () => {
    throw new Error('permission denied: forbidden');
  });
  const expr = compileExpression("resource.List('v1', 'secrets', 'default').items.size()");
  t.throws(() => expr.evaluate({}, ctx));
  await ctx.resolvePending!();
  t.throws(() => expr.evaluate({}, ctx), /^failed to list resource: permission denied: forbidden$/);
});

t.test('ValidatingPolicy with resource.Get: denies and admits through the engine rounds', async (t) => {
  const { resolver, asked } = fakeCluster({ '/api/v1/namespaces/default/configmaps/teams': teams });
  const e = engineFor(vpol("resource.Get('v1', 'configmaps', 'default', 'teams').data.allowed.split(',').exists(t, t == object.metadata.labels.team)"), resolver);
  const ok = await e.evaluate(input(pod('a', { team: 'red' })), { mode: 'validate' });
  t.same(ok.results[0]!.rules.map((r) => [r.status, r.message]), [['pass', 'success']]);
  const bad = await e.evaluate(input(pod('b', { team: 'green' })), { mode: 'validate' });
  t.same(bad.results[0]!.rules.map((r) => [r.status, r.message]), [['fail', 'team not allowed']]);
  t.same(asked, ['/api/v1/namespaces/default/configmaps/teams', '/api/v1/namespaces/default/configmaps/teams'],
    'one GET per request: the memo is per evaluation, the cache is the resolver\'s');
});

t.test('ValidatingPolicy: an absent object is an error result with Kyverno\'s message', async (t) => {
  const { resolver } = fakeCluster({});
  const e = engineFor(vpol("resource.Get('v1', 'configmaps', 'default', 'teams').data.allowed != ''"), resolver);
  const r = await e.evaluate(input(pod('a')), { mode: 'validate' });
  t.equal(r.results[0]!.rules[0]!.status, 'error');
  t.match(r.results[0]!.rules[0]!.message, /failed to get resource: configmaps "teams" not found/);
  t.notMatch(r.results[0]!.rules[0]!.message, /pending/);
});

t.test('lookups in variables, chained on each other, resolved over several rounds', async (t) => {
  // The second lookup's name comes from the first's answer: two rounds.
  const { resolver, asked } = fakeCluster({
    '/api/v1/namespaces/default/configmaps/pointer': { data: { target: 'teams' } },
    '/api/v1/namespaces/default/configmaps/teams': teams,
  });
  const vars = `  variables:
  - name: target
    expression: "resource.Get('v1', 'configmaps', 'default', 'pointer').data.target"
  - name: allowed
    expression: "resource.Get('v1', 'configmaps', 'default', variables.target).data.allowed"
`;
  const e = engineFor(vpol("variables.allowed.contains(object.metadata.labels.team)", vars), resolver);
  const r = await e.evaluate(input(pod('a', { team: 'blue' })), { mode: 'validate' });
  t.same(r.results[0]!.rules.map((x) => x.status), ['pass']);
  t.same(asked, ['/api/v1/namespaces/default/configmaps/pointer', '/api/v1/namespaces/default/configmaps/teams']);
});

t.test('lookups chained deeper than the rounds allow end in a clear error', async (t) => {
  // cm0 → cm1 → … each names the next: six dependent lookups, more than 4 rounds resolve.
  const objects: Record<string, JsonValue> = {};
  for (let i = 0; i < 6; i++) objects[`/api/v1/namespaces/default/configmaps/cm${i}`] = { data: { next: `cm${i + 1}` } };
  const { resolver } = fakeCluster(objects);
  let expr = "'cm0'";
  for (let i = 0; i < 6; i++) expr = `resource.Get('v1', 'configmaps', 'default', ${expr}).data.next`;
  const e = engineFor(vpol(`${expr.replaceAll('"', '\\"')} == 'x'`), resolver);
  const r = await e.evaluate(input(pod('a')), { mode: 'validate' });
  const rule = r.results[0]!.rules[0]!;
  t.equal(rule.status, 'error');
  t.match(rule.message, /was not resolved: a policy evaluation resolves its lookups in at most 4 rounds/);
  t.notMatch(rule.message, /lookup pending/, 'never the internal pending error');
});

t.test('independent lookups in several validations are all resolved in the first round', async (t) => {
  // Six validations, each reading its own ConfigMap: more than the 4 rounds allow if found one at a time.
  const objects: Record<string, JsonValue> = {};
  for (let i = 0; i < 6; i++) objects[`/api/v1/namespaces/default/configmaps/cm${i}`] = { data: { ok: 'yes' } };
  const { resolver, asked } = fakeCluster(objects);
  const validations = Array.from({ length: 6 }, (_, i) =>
    `  - expression: "resource.Get('v1', 'configmaps', 'default', 'cm${i}').data.ok == 'yes'"\n    message: cm${i} says no\n`).join('');
  const yaml = vpol('true').replace(/  validations:\n[\s\S]*$/, `  validations:\n${validations}`);
  const e = engineFor(yaml, resolver);
  const r = await e.evaluate(input(pod('a')), { mode: 'validate' });
  t.same(r.results[0]!.rules.map((x) => [x.status, x.message]), [['pass', 'success']]);
  t.same([...asked].sort(), Object.keys(objects).sort(), 'each ConfigMap read once');
});

t.test('globalContext.Get maps to resolver.globalContext', async (t) => {
  const calls: unknown[] = [];
  const resolver: ContextResolver = {
    globalContext: async (name, projection) => {
      calls.push([name, projection]);
      return { replicas: 3 };
    },
  };
  const e = engineFor(vpol("globalContext.Get('deployments', 'count').replicas < 5 && globalContext.Get('deployments').replicas == 3"), resolver);
  const r = await e.evaluate(input(pod('a')), { mode: 'validate' });
  t.same(r.results[0]!.rules.map((x) => x.status), ['pass']);
  t.same(calls, [['deployments', 'count'], ['deployments', undefined]]);
  const none = engineFor(vpol("globalContext.Get('x', '') != null"), { kubeGet: async () => undefined });
  const r2 = await none.evaluate(input(pod('a')), { mode: 'validate' });
  t.match(r2.results[0]!.rules[0]!.message, /failed to get global reference: global context entry x cannot be resolved here/);
});

t.test('validate.cel rules in kyverno.io/v1 policies run the same rounds', async (t) => {
  const { resolver } = fakeCluster({ '/api/v1/namespaces/default/configmaps/teams': teams });
  const e = engineFor(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: teams}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-allowed
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        expressions:
        - expression: "resource.Get('v1', 'configmaps', 'default', 'teams').data.allowed.split(',').exists(t, t == object.metadata.labels.team)"
          message: team not allowed
`, resolver);
  const ok = await e.evaluate(input(pod('a', { team: 'blue' })), { mode: 'validate' });
  t.same(ok.results[0]!.rules.map((r) => [r.status, r.message]), [['pass', "Validation rule 'team-allowed' passed."]]);
  const bad = await e.evaluate(input(pod('b', { team: 'green' })), { mode: 'validate' });
  t.same(bad.results[0]!.rules.map((r) => [r.status, r.message]), [['fail', 'team not allowed']]);
});

t.test('offline Test data keeps the static provider; a resolver that cannot look up gets none', async (t) => {
  const resolver: ContextResolver = { celLookups: { resources: [teams as KubeObject], images: [] } };
  const ctx = celContextFor(resolver)!;
  t.equal(ctx, celContextFor(resolver), 'one static provider per resolver');
  t.equal(ctx.resolvePending, undefined);
  t.equal(toJson(compileExpression("resource.Get('v1', 'configmaps', 'default', 'teams').data.allowed").evaluate({}, ctx)), 'red,blue');
  t.equal(celContextFor({ configMap: () => undefined }), undefined);
  const server = { kubeGet: async () => undefined };
  t.not(celContextFor(server), celContextFor(server), 'a fresh deferred provider per evaluation');
  t.throws(() => compileExpression("http.Get('https://example.com/x')").evaluate({}, staticContext([])),
    /request failed: GET https:\/\/example.com\/x is not available offline/);
});

t.test('withLookupRounds stays synchronous when nothing is pending', async (t) => {
  const ctx = deferredContext(async () => teams);
  const plain = compileExpression('1 + 1');
  const sync = withLookupRounds(ctx, () => plain.evaluate({}, ctx));
  t.notOk(sync instanceof Promise, 'no promise on the hot path');
  t.equal(sync, 2n);
  const lookup = compileExpression("resource.Get('v1', 'configmaps', 'default', 'teams').data.allowed");
  const later = withLookupRounds(ctx, () => {
    try {
      return lookup.evaluate({}, ctx);
    } catch (e) {
      return (e as Error).message;
    }
  });
  t.ok(later instanceof Promise);
  t.equal(await later, 'red,blue');
});
