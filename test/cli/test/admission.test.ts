import t from 'tap';
import { buildAdmissionInput, operationFrom } from '../../../src/cli/test/admission.ts';
import { parseValues } from '../../../src/cli/test/spec.ts';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'dev' } };
const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'prod' } };

t.test('operation: CREATE unless request.operation says otherwise', async (t) => {
  t.equal(operationFrom({}), 'CREATE');
  t.equal(operationFrom({ 'request.operation': 'UPDATE' }), 'UPDATE');
  t.equal(operationFrom({ 'request.operation': 'DELETE' }), 'DELETE');
  t.equal(operationFrom({ 'request.operation': 'bogus' }), 'CREATE');
});

t.test('CREATE: object set, no old object, kind from apiVersion', async (t) => {
  const i = buildAdmissionInput(deploy, { variables: {} });
  t.equal(i.operation, 'CREATE');
  t.equal(i.object, deploy);
  t.equal(i.oldObject, null);
  t.same(i.kind, { group: 'apps', version: 'v1', kind: 'Deployment' });
  t.equal(i.namespace, 'prod');
  t.equal(i.name, 'd');
  t.same(i.userInfo, {});
  t.same(i.roles, []);
  t.equal(i.namespaceLabels, undefined);
});

t.test('UPDATE: the old object is a copy of the resource; DELETE: no new object', async (t) => {
  const u = buildAdmissionInput(pod, { variables: { 'request.operation': 'UPDATE' } });
  t.equal(u.object, pod);
  t.same(u.oldObject, pod);
  t.not(u.oldObject, pod, 'a copy, so mutating the new object cannot change the old one');
  const d = buildAdmissionInput(pod, { variables: { 'request.operation': 'DELETE' } });
  t.equal(d.object, null);
  t.same(d.oldObject, pod);
  t.same(d.kind, { group: '', version: 'v1', kind: 'Pod' });
});

t.test('user info and namespace labels from the Test files', async (t) => {
  const values = parseValues({ namespaceSelector: [{ name: 'dev', labels: { team: 'a' } }] });
  const i = buildAdmissionInput(pod, {
    variables: {},
    values,
    userInfo: { userInfo: { username: 'bob', groups: ['g'] }, roles: ['dev:r'], clusterRoles: ['c'] },
  });
  t.same(i.userInfo, { username: 'bob', groups: ['g'] });
  t.same(i.roles, ['dev:r']);
  t.same(i.clusterRoles, ['c']);
  t.same(i.namespaceLabels, { team: 'a' });
  t.equal(buildAdmissionInput(deploy, { variables: {}, values }).namespaceLabels, undefined, 'unknown namespace: no labels');
});

t.test('subresources: a subresource kind is admitted as its parent kind with the subresource name', async (t) => {
  const values = parseValues({
    subresources: [{ subresource: { name: 'deployments/scale', kind: 'Scale', group: 'autoscaling', version: 'v1' }, parentResource: { name: 'deployments', kind: 'Deployment', group: 'apps', version: 'v1' } }],
  });
  const scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'd', namespace: 'prod' } };
  const i = buildAdmissionInput(scale, { variables: {}, values });
  t.same(i.kind, { group: 'apps', version: 'v1', kind: 'Deployment' });
  t.equal(i.subResource, 'scale');
  t.equal(buildAdmissionInput(pod, { variables: {}, values }).subResource, undefined);
});
