/**
 * Mutate-existing rules (`mutate.targets`) in the engine: offline
 * (`mutateExisting: true`) they patch the targets the resolver gives and leave
 * the trigger alone; at admission (the webhook's options) they do not run.
 */
import t from 'tap';
import { parsePolicyText } from '../../src/policy/load.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { AdmissionInput, ContextResolver, KubeObject } from '../../src/engine/types.ts';

function engineFor(yaml: string, resolver?: ContextResolver): Engine {
  const loaded = parsePolicyText(yaml, 'test.yaml');
  if (loaded.errors.length) throw new Error(JSON.stringify(loaded.errors));
  const { policies, errors } = compilePolicies(loaded.policies);
  if (errors.length) throw new Error(JSON.stringify(errors));
  return new Engine(policies, { resolver });
}

const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'team-a' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
const input: AdmissionInput = {
  operation: 'CREATE', object: pod, oldObject: null, kind: { group: '', version: 'v1', kind: 'Pod' }, userInfo: { username: 'alice' }, roles: [], clusterRoles: [],
};

const secret = (name: string, namespace: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace } });
const existing = [secret('creds', 'team-a'), secret('creds', 'team-b'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'creds', namespace: 'team-a' } }];
const resolver: ContextResolver = { targetResources: (apiVersion, kind) => existing.filter((o) => o.apiVersion === apiVersion && o.kind === kind) };

const policies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: touch-secrets
spec:
  rules:
  - name: touch
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      targets:
      - apiVersion: v1
        kind: Secret
        name: creds
        namespace: "{{request.object.metadata.namespace}}"
      patchStrategicMerge:
        metadata:
          annotations:
            used-by: "{{request.object.metadata.name}}"
            seen-as: "{{target.metadata.name}}"
  - name: label-pod
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            mutated: "yes"
`;

t.test('offline: the rule patches the target the trigger selects; the trigger only gets the ordinary mutation', async (t) => {
  const e = engineFor(policies, resolver);
  const r = await e.evaluate(input, { mode: 'mutate', mutateExisting: true });
  t.same(r.results[0]!.rules.map((x) => [x.name, x.status, x.message]), [
    ['label-pod', 'pass', 'mutated Pod/web in namespace team-a'],
    ['touch', 'pass', 'mutated Secret/creds in namespace team-a'],
  ]);
  t.same(r.results[0]!.rules[1]!.patchedTarget, {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'team-a', annotations: { 'used-by': 'web', 'seen-as': 'creds' } },
  });
  t.same(r.patchedResource!.metadata, { name: 'web', namespace: 'team-a', labels: { mutated: 'yes' } }, 'no annotation on the trigger');
  t.same(existing[0], secret('creds', 'team-a'), 'the existing object itself is not modified');
});

t.test('offline without a matching target: no response for the rule', async (t) => {
  const e = engineFor(policies, { targetResources: () => [secret('creds', 'team-b')] });
  const r = await e.evaluate(input, { mode: 'mutate', mutateExisting: true });
  t.same(r.results[0]!.rules.map((x) => x.name), ['label-pod']);
});

t.test('the webhook (no mutateExisting): the rule does not run, the trigger is not patched by it', async (t) => {
  const e = engineFor(policies, resolver);
  const r = await e.evaluate(input, { mode: 'mutate' });
  t.same(r.results[0]!.rules.map((x) => x.name), ['label-pod']);
  t.same(r.patchedResource!.metadata, { name: 'web', namespace: 'team-a', labels: { mutated: 'yes' } });
  t.same(r.patches, [{ op: 'add', path: '/metadata/labels', value: { mutated: 'yes' } }]);
  const only = engineFor(policies.replace(/  - name: label-pod[\s\S]*$/, ''), resolver);
  const r2 = await only.evaluate(input, { mode: 'mutate' });
  t.same(r2.results, [], 'a policy with only mutate-existing rules gives no result at admission');
  t.equal(r2.patchedResource, pod);
});
