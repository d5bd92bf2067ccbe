/**
 * deploy/base as an operator applies it: every document parses, the kinds a
 * hardened webhook needs are there, and the webhook configurations carry the
 * settings the README promises. (Applying them to a real apiserver is the
 * cluster harness's job.)
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseAllDocuments, parse } from 'yaml';

const base = new URL('../../deploy/base/', import.meta.url);
const kustomization = parse(readFileSync(new URL('kustomization.yaml', base), 'utf8')) as { resources: string[] };
const docs = kustomization.resources.flatMap((f) =>
  parseAllDocuments(readFileSync(new URL(f, base), 'utf8')).map((d) => d.toJSON() as Record<string, any>));
const byKind = (kind: string) => docs.filter((d) => d?.kind === kind);

t.test('the kustomize base holds the hardened set of objects', async (t) => {
  for (const kind of ['Namespace', 'ServiceAccount', 'ClusterRole', 'Role', 'Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy',
    'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    t.ok(byKind(kind).length > 0, kind);
  }
});

t.test('least-privilege RBAC: read-only verbs', async (t) => {
  for (const role of [...byKind('ClusterRole'), ...byKind('Role')]) {
    for (const rule of role.rules) for (const verb of rule.verbs) t.ok(['get', 'list', 'watch'].includes(verb), `${role.metadata.name}: ${verb}`);
  }
});

t.test('the Deployment runs hardened', async (t) => {
  const d = byKind('Deployment')[0]!;
  t.equal(d.spec.replicas, 3);
  const pod = d.spec.template.spec;
  t.equal(pod.securityContext.runAsNonRoot, true);
  t.ok(pod.affinity.podAntiAffinity, 'anti-affinity');
  const c = pod.containers[0];
  t.same(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  t.ok(c.resources.limits.cpu && c.resources.limits.memory, 'limits');
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  t.equal(c.livenessProbe.httpGet.path, '/healthz');
});

t.test('webhook configurations', async (t) => {
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    for (const w of byKind(kind)[0]!.webhooks) {
      t.same(w.admissionReviewVersions, ['v1'], `${kind}: admissionReviewVersions`);
      t.equal(w.sideEffects, 'None');
      t.equal(w.failurePolicy, 'Fail');
      t.equal(w.matchPolicy, 'Equivalent');
      t.ok(w.timeoutSeconds <= 10);
      const excluded = w.namespaceSelector.matchExpressions.find((e: any) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn');
      t.ok(excluded.values.includes('kube-system') && excluded.values.includes('portcullis'), 'kube-system and its own namespace excluded');
    }
  }
  t.equal(byKind('MutatingWebhookConfiguration')[0]!.webhooks[0].reinvocationPolicy, 'IfNeeded');
});
