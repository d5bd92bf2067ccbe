import t from 'tap';
import { parsePolicyText } from '../../src/policy/load.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { AdmissionInput, KubeObject, ContextResolver } from '../../src/engine/types.ts';

function engineFor(yaml: string, resolver?: ContextResolver): Engine {
  const loaded = parsePolicyText(yaml, 'test.yaml');
  if (loaded.errors.length) throw new Error(JSON.stringify(loaded.errors));
  const { policies, errors } = compilePolicies(loaded.policies);
  if (errors.length) throw new Error(JSON.stringify(errors));
  return new Engine(policies, { resolver });
}

const pod = (spec: object, meta: object = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', ...meta }, spec } as unknown as KubeObject);

function input(object: KubeObject, extra: Partial<AdmissionInput> = {}): AdmissionInput {
  return {
    operation: 'CREATE', object, oldObject: null, kind: { group: '', version: 'v1', kind: object.kind! },
    userInfo: { username: 'alice' }, roles: [], clusterRoles: [], ...extra,
  };
}

const policy = (name: string, rules: string, spec = '') => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ${name}
spec:
${spec}  rules:
${rules}`;

t.test('validate pattern: pass and fail with Kyverno message and path', async (t) => {
  const e = engineFor(policy('limits', `  - name: check
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "Limits are required"
      pattern:
        spec:
          containers:
          - resources:
              limits:
                memory: "?*"
`, '  validationFailureAction: Enforce\n'));
  const ok = await e.evaluate(input(pod({ containers: [{ name: 'a', image: 'x', resources: { limits: { memory: '1Gi' } } }] })), { mode: 'validate' });
  t.equal(ok.results[0]!.rules[0]!.status, 'pass');
  t.equal(ok.results[0]!.rules[0]!.message, "validation rule 'check' passed.");
  const bad = await e.evaluate(input(pod({ containers: [{ name: 'a', image: 'x' }] })), { mode: 'validate' });
  const r = bad.results[0]!.rules[0]!;
  t.equal(r.status, 'fail');
  t.match(r.message, /^validation error: Limits are required\. rule check failed at path \/spec\/containers\/0\/resources\//);
});

t.test('rules that do not match give no result; preconditions that fail give skip', async (t) => {
  const e = engineFor(policy('pre', `  - name: only-labelled
    match: {any: [{resources: {kinds: [Pod]}}]}
    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.team || '' }}"
        operator: Equals
        value: payments
    validate:
      deny: {}
      message: denied
  - name: services-only
    match: {any: [{resources: {kinds: [Service]}}]}
    validate:
      deny: {}
`));
  const res = await e.evaluate(input(pod({ containers: [] })), { mode: 'validate' });
  t.equal(res.results[0]!.rules.length, 1, 'the Service rule produced nothing');
  t.equal(res.results[0]!.rules[0]!.status, 'skip');
  t.match(res.results[0]!.rules[0]!.message, /^preconditions not met/);
  const res2 = await e.evaluate(input(pod({ containers: [] }, { labels: { team: 'payments' } })), { mode: 'validate' });
  t.equal(res2.results[0]!.rules[0]!.status, 'fail');
  t.equal(res2.results[0]!.rules[0]!.message, 'denied');
});

t.test('context entries: variable with jmesPath and default, configMap through the resolver', async (t) => {
  const resolver: ContextResolver = {
    configMap: (ns, name) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { allowed: 'payments' } } as unknown as KubeObject),
  };
  const e = engineFor(policy('ctx', `  - name: team-allowed
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: team
      variable:
        jmesPath: request.object.metadata.labels.team
        default: none
    - name: settings
      configMap: {name: teams, namespace: policy-config}
    validate:
      message: "team {{ team }} is not {{ settings.data.allowed }}"
      deny:
        conditions:
          any:
          - key: "{{ team }}"
            operator: NotEquals
            value: "{{ settings.data.allowed }}"
`), resolver);
  const r = await e.evaluate(input(pod({ containers: [] })), { mode: 'validate' });
  t.equal(r.results[0]!.rules[0]!.status, 'fail');
  t.equal(r.results[0]!.rules[0]!.message, 'team none is not payments');
  const r2 = await e.evaluate(input(pod({ containers: [] }, { labels: { team: 'payments' } })), { mode: 'validate' });
  t.equal(r2.results[0]!.rules[0]!.status, 'pass');
  const noResolver = engineFor(policy('ctx', `  - name: needs-cm
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: settings
      configMap: {name: teams, namespace: policy-config}
    validate:
      deny: {}
`));
  const r3 = await noResolver.evaluate(input(pod({ containers: [] })), { mode: 'validate' });
  t.equal(r3.results[0]!.rules[0]!.status, 'error');
  t.match(r3.results[0]!.rules[0]!.message, /^failed to load context/);
});

t.test('variables pinned by the caller override context entries and request fields', async (t) => {
  const e = engineFor(policy('pin', `  - name: on-update
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: cluster
      apiCall: {urlPath: /api/v1/namespaces}
    preconditions:
      all:
      - {key: "{{ request.operation }}", operator: Equals, value: UPDATE}
    validate:
      message: "{{ cluster.name }}"
      deny: {}
`));
  const r = await e.evaluate(input(pod({ containers: [] })), { mode: 'validate', variables: { 'request.operation': 'UPDATE', cluster: { name: 'prod-eu' } } });
  t.equal(r.results[0]!.rules[0]!.status, 'fail');
  t.equal(r.results[0]!.rules[0]!.message, 'prod-eu');
});

t.test('applyRules One stops at the first applied rule; scored: "false" does not soften admission', async (t) => {
  const e = engineFor(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: soft
  annotations: {policies.kyverno.io/scored: "false"}
spec:
  applyRules: One
  rules:
  - name: first
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {deny: {}}
  - name: second
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {deny: {}}
`);
  const r = await e.evaluate(input(pod({ containers: [] })), { mode: 'validate' });
  // Kyverno reports unscored failures as warn in policy reports only (the CLI does so too);
  // at admission an Enforce failure still blocks, so the engine keeps `fail`.
  t.same(r.results[0]!.rules.map((x) => [x.name, x.status]), [['first', 'fail']]);
});

t.test('UPDATE of a resource that already violated the rule is skipped (allowExistingViolations)', async (t) => {
  const e = engineFor(policy('nohost', `  - name: no-host-network
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {spec: {=(hostNetwork): false}}
`));
  const bad = pod({ hostNetwork: true, containers: [] });
  const r = await e.evaluate(input(bad, { operation: 'UPDATE', oldObject: bad }), { mode: 'validate', allowExistingViolations: true });
  t.equal(r.results[0]!.rules[0]!.status, 'skip');
  const cli = await e.evaluate(input(bad, { operation: 'UPDATE', oldObject: bad }), { mode: 'validate' });
  t.equal(cli.results[0]!.rules[0]!.status, 'fail', 'offline (CLI) evaluation reports the failure, like kyverno test');
  const r2 = await e.evaluate(input(bad, { operation: 'UPDATE', oldObject: pod({ containers: [] }) }), { mode: 'validate', allowExistingViolations: true });
  t.equal(r2.results[0]!.rules[0]!.status, 'fail', 'a new violation on UPDATE still fails');
});

t.test('autogen rules evaluate controllers', async (t) => {
  const e = engineFor(policy('nohost', `  - name: no-host-network
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {spec: {=(hostNetwork): false}}
`));
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'x' },
    spec: { template: { spec: { hostNetwork: true, containers: [] } } } } as unknown as KubeObject;
  const r = await e.evaluate({ ...input(deploy), kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }, { mode: 'validate' });
  t.same(r.results[0]!.rules.map((x) => [x.name, x.status]), [['autogen-no-host-network', 'fail']]);
  t.match(r.results[0]!.rules[0]!.message, /failed at path \/spec\/template\/spec\/hostNetwork\//);
});

t.test('mutate then validate: validation sees the mutated object, patches are RFC 6902', async (t) => {
  const e = engineFor(policy('defaults', `  - name: add-nonroot
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        spec:
          securityContext:
            +(runAsNonRoot): true
`) + '---\n' + policy('require-nonroot', `  - name: check
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {spec: {securityContext: {runAsNonRoot: true}}}
`));
  const r = await e.evaluate(input(pod({ containers: [{ name: 'a', image: 'x' }] })), { mode: 'all' });
  t.same(r.patches, [{ op: 'add', path: '/spec/securityContext', value: { runAsNonRoot: true } }]);
  const byName = Object.fromEntries(r.results.map((x) => [x.policy.name, x.rules[0]!.status]));
  t.same(byName, { defaults: 'pass', 'require-nonroot': 'pass' });
  t.same((r.patchedResource as any).spec.securityContext, { runAsNonRoot: true });
  const mutateOnly = await e.evaluate(input(pod({ containers: [] })), { mode: 'mutate' });
  t.same(mutateOnly.results.map((x) => x.policy.name), ['defaults']);
});

t.test('generate rules render the resource they would create (offline mode only)', async (t) => {
  const e = engineFor(policy('pdb', `  - name: default-pdb
    match: {any: [{resources: {kinds: [Deployment]}}]}
    generate:
      apiVersion: policy/v1
      kind: PodDisruptionBudget
      name: "{{request.object.metadata.name}}-pdb"
      namespace: "{{request.object.metadata.namespace}}"
      data:
        spec:
          minAvailable: 1
          selector: "{{request.object.spec.selector}}"
`));
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [] } } } } as unknown as KubeObject;
  const din = { ...input(deploy), kind: { group: 'apps', version: 'v1', kind: 'Deployment' } };
  const r = await e.evaluate(din, { mode: 'all' });
  const rule = r.results[0]!.rules[0]!;
  t.equal(rule.status, 'pass');
  t.same(rule.generatedResources, [{
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web-pdb', namespace: 'shop' },
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
  }]);
  const admission = await e.evaluate(din, { mode: 'validate' });
  t.same(admission.results, [], 'the webhook does not run generate rules');
});

t.test('PolicyExceptions turn matching rules into skip, and exempt single podSecurity controls', async (t) => {
  const { compileExceptions } = await import('../../src/engine/exceptions.ts');
  const loaded = parsePolicyText(policy('no-host', `  - name: host-network
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {spec: {=(hostNetwork): false}}
`) + `---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: psa}
spec:
  rules:
  - name: baseline
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      podSecurity: {level: baseline, version: latest}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: cni, namespace: kube-system}
spec:
  exceptions:
  - policyName: no-host
    ruleNames: [host-network]
  match:
    any:
    - resources: {kinds: [Pod], namespaces: [kube-system]}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: agent-privileged, namespace: monitoring}
spec:
  exceptions:
  - policyName: psa
    ruleNames: [baseline]
  match:
    any:
    - resources: {kinds: [Pod], namespaces: [monitoring]}
  podSecurity:
  - controlName: Privileged Containers
    images: ["agent:*"]
`, 'ex.yaml');
  t.same(loaded.errors, []);
  t.equal(loaded.exceptions.length, 2);
  const { policies } = compilePolicies(loaded.policies);
  const engine = new Engine(policies, { exceptions: compileExceptions(loaded.exceptions) });
  const hostPod = (ns: string) => pod({ hostNetwork: true, containers: [{ name: 'c', image: 'x' }] }, { namespace: ns });
  const statusOf = (r: Awaited<ReturnType<Engine['evaluate']>>, p: string) => r.results.find((x) => x.policy.name === p)!.rules[0]!;
  const inSystem = await engine.evaluate(input(hostPod('kube-system')), { mode: 'validate' });
  t.equal(statusOf(inSystem, 'no-host').status, 'skip');
  t.equal(statusOf(inSystem, 'no-host').exception, 'kube-system/cni');
  const elsewhere = await engine.evaluate(input(hostPod('default')), { mode: 'validate' });
  t.equal(statusOf(elsewhere, 'no-host').status, 'fail', 'the exception is scoped to kube-system');
  const privileged = (image: string) => pod({ containers: [{ name: 'a', image, securityContext: { privileged: true } }] }, { namespace: 'monitoring' });
  const agent = await engine.evaluate(input(privileged('agent:1.0')), { mode: 'validate' });
  t.equal(statusOf(agent, 'psa').status, 'skip', 'the exempted control on the named image');
  const other = await engine.evaluate(input(privileged('busybox:1')), { mode: 'validate' });
  t.equal(statusOf(other, 'psa').status, 'fail', 'other images are not exempted');
});

t.test('verifyImages asks for the client of the admitted resource (its imagePullSecrets)', async (t) => {
  const loaded = parsePolicyText(policy('sig', `  - name: check
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["registry.internal/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: "-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\\n-----END PUBLIC KEY-----"
`), 'vi.yaml');
  const { policies } = compilePolicies(loaded.policies);
  const seen: Array<[string | undefined, string]> = [];
  const engine = new Engine(policies, {
    images: { clientFor: (resource, ns) => { seen.push([resource.metadata?.name, ns]); throw new Error('secret regcred: forbidden'); } },
  });
  const p = pod({ imagePullSecrets: [{ name: 'regcred' }], containers: [{ name: 'a', image: 'registry.internal/app:1' }] }, { namespace: 'apps' });
  const r = await engine.evaluate(input(p), { mode: 'mutate' });
  t.same(seen, [['p', 'apps']], 'called with the resource and its namespace');
  t.equal(r.results[0]!.rules[0]!.status, 'error');
  t.match(r.results[0]!.rules[0]!.message, /failed to read image pull secrets: secret regcred: forbidden/);
});

t.test('verifyImages required: false leaves signatures to the mutate phase; verifyDigest still applies', async (t) => {
  const loaded = parsePolicyText(policy('sig', `  - name: check
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["registry.internal/*"]
      required: false
      attestors:
      - entries:
        - keys:
            publicKeys: "-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\\n-----END PUBLIC KEY-----"
`), 'vi.yaml');
  const { policies } = compilePolicies(loaded.policies);
  let calls = 0;
  const engine = new Engine(policies, { images: { clientFor: () => { calls++; throw new Error('no registry here'); } } });
  const withDigest = pod({ containers: [{ name: 'a', image: `registry.internal/app@sha256:${'a'.repeat(64)}` }] });
  const v = await engine.evaluate(input(withDigest), { mode: 'validate' });
  t.equal(v.results[0]!.rules[0]!.status, 'pass', 'no registry round on /validate');
  t.equal(calls, 0, 'no client is built when no signature is checked');
  const tagged = pod({ containers: [{ name: 'a', image: 'registry.internal/app:1' }] });
  const v2 = await engine.evaluate(input(tagged), { mode: 'validate' });
  t.equal(v2.results[0]!.rules[0]!.status, 'fail');
  t.match(v2.results[0]!.rules[0]!.message, /missing digest for registry.internal\/app:1/);
});

t.test('rules that wait (context entries) and rules that do not: same order, same results, walk resumes where it waited', async (t) => {
  const waits = `    context: [{name: limit, variable: {value: 2}}]
`;
  const rule = (name: string, wait: boolean, ok: boolean) => `  - name: ${name}
    match: {any: [{resources: {kinds: [Pod]}}]}
${wait ? waits : ''}    validate:
      message: "${name} failed"
      deny: {conditions: {all: [{key: ${ok ? 'false' : 'true'}, operator: Equals, value: true}]}}
`;
  const yaml = [
    policy('mixed', rule('sync-pass', false, true) + rule('wait-fail', true, false) + rule('sync-after', false, true)),
    policy('one', rule('wait-pass', true, true) + rule('never-run', false, false), '  applyRules: One\n'),
    policy('last', rule('sync-fail', false, false)),
  ].join('---\n');
  const e = engineFor(yaml);
  const r = await e.evaluate(input(pod({ containers: [{ name: 'c', image: 'nginx' }] })), { mode: 'all' });
  t.strictSame(r.results.map((p) => [p.policy.name, p.rules.map((x) => `${x.name}:${x.status}`)]), [
    ['mixed', ['sync-pass:pass', 'wait-fail:fail', 'sync-after:pass']],
    ['one', ['wait-pass:pass']],
    ['last', ['sync-fail:fail']],
  ]);
  t.ok(r.results.every((p) => p.durationMs >= 0), 'each policy is timed');
});

t.test('{{@}} in a mutate patch is the resource value at the patch\'s own path (plain, chained and foreach)', async (t) => {
  const e = engineFor(policy('registries', `  - name: label-suffix
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            a: "{{@}}-x"
  - name: mirror
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        spec:
          containers:
          - (name): "*"
            image: "{{regex_replace_all('^[^/]+','{{@}}','myregistry.corp.com')}}"
  - name: mirror-again
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        spec:
          containers:
          - (name): "*"
            image: "{{regex_replace_all('myregistry.corp.com','{{@}}','otherregistry.corp.com')}}"
  - name: per-container
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.initContainers
        patchStrategicMerge:
          metadata:
            annotations:
              first-init: "{{@}}-{{element.name}}"`));
  const object = pod({ containers: [{ name: 'test', image: 'foo/bash:5.0' }], initContainers: [{ name: 'i', image: 'busybox' }] },
    { labels: { a: 'b' }, annotations: { 'first-init': 'seen' } });
  const r = await e.evaluate(input(object), { mode: 'mutate' });
  t.same(r.results.flatMap((p) => p.rules.map((x) => `${x.name}:${x.status}`)), ['label-suffix:pass', 'mirror:pass', 'mirror-again:pass', 'per-container:pass']);
  const out = r.patchedResource as unknown as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { containers: { image: string }[] } };
  t.equal(out.metadata.labels.a, 'b-x');
  t.equal(out.spec.containers[0]!.image, 'otherregistry.corp.com/bash:5.0', 'each rule reads the image as the previous one left it');
  t.equal(out.metadata.annotations['first-init'], 'seen-i', 'inside foreach, the value at the patch path');
});
