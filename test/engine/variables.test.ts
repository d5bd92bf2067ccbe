import t from 'tap';
import {
  substituteVariables, compileTemplate, evaluateJMESPath, VariableError, buildContextData, setVariable,
  serviceAccountOf, hasVariables, type ContextData,
} from '../../src/engine/variables.ts';
import type { AdmissionInput, JsonValue, KubeObject } from '../../src/engine/types.ts';

const object = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'prod', labels: { app: 'web', 'corp.org/version': 'v1.2.3' } },
  spec: { replicas: 3, containers: [{ name: 'nginx', image: 'nginx:1.25' }, { name: 'side', image: 'busybox' }] },
};
const data: ContextData = {
  request: { operation: 'CREATE', object, oldObject: null, namespace: 'prod' },
  element: { name: 'nginx', image: 'nginx:1.25' },
  serviceAccountName: 'builder',
};

const sub = (v: JsonValue, d: ContextData = data) => substituteVariables(v, d);
const failure = (v: JsonValue, d: ContextData = data): VariableError => {
  try {
    sub(v, d);
  } catch (e) {
    if (e instanceof VariableError) return e;
    throw e;
  }
  throw new Error('expected a VariableError');
};

t.test('whole-string variables keep their JSON type', async (t) => {
  t.equal(sub('{{ request.object.spec.replicas }}'), 3);
  t.same(sub('{{request.object.metadata.labels}}'), object.metadata.labels);
  t.same(sub('{{ request.object.spec.containers[].name }}'), ['nginx', 'side']);
  t.equal(sub('{{ request.oldObject }}'), null);
  t.equal(sub('{{ `true` }}'), true);
});

t.test('embedded variables are stringified like Go', async (t) => {
  t.equal(sub('name={{ request.object.metadata.name }}!'), 'name=web!');
  t.equal(sub('{{request.object.metadata.namespace}}/{{request.object.kind}}/{{request.object.metadata.name}}'), 'prod/Pod/web');
  t.equal(sub('n={{ request.object.spec.replicas }}'), 'n=3');
  t.equal(sub('x {{ request.oldObject }}'), 'x null');
  t.equal(sub('labels: {{ request.object.metadata.labels }}'), 'labels: {"app":"web","corp.org/version":"v1.2.3"}');
  t.equal(sub('{{ `{"b":1,"a":"<x>"}` }} '), '{"a":"\\u003cx\\u003e","b":1} ', 'Go json.Marshal: sorted keys, HTML escaped');
  t.equal(sub(' {{ request.object.spec.replicas }}'), ' 3', 'leading space makes it embedded');
  t.equal(sub('{{a}}{{b}}', { a: 'x', b: 'y' }), 'xy', 'adjacent variables');
});

t.test('escapes, nesting, keys, arrays', async (t) => {
  t.equal(sub('\\{{ request.object.metadata.name }}'), '{{ request.object.metadata.name }}');
  t.equal(sub('a \\{{ x }} b {{ request.object.metadata.name }}'), 'a {{ x }} b web');
  t.equal(
    sub("{{ regex_match('^v[0-9].[0-9].[0-9]$','{{request.object.metadata.labels.\"corp.org/version\" || 'empty'}}') }}"),
    true,
  );
  t.equal(sub("{{ regex_match('^[0-9]+%$', '{{ request.object.spec.minAvailable || ''}}') }}"), false);
  t.equal(
    sub("{{ request.object.spec.containers[?name == '{{element.name}}'].image | [0] }}"),
    'nginx:1.25',
  );
  t.equal(sub("prefix {{ to_upper('{{ element.name }}') }}"), 'prefix NGINX', 'nested inside text');
  t.equal(sub("\\{{ keep }} {{ to_upper('{{ element.name }}') }}"), '{{ keep }} NGINX', 'escapes survive nested substitution');
  t.same(sub({ '{{ element.name }}': ['{{ request.object.spec.replicas }}', 'x-{{ element.name }}', 7] }), { nginx: [3, 'x-nginx', 7] });
  t.same(sub({ a: { b: 'plain' } }), { a: { b: 'plain' } });
  t.same(sub('{{ {a: element.name} }}'), { a: 'nginx' }, 'a JMESPath hash literal inside braces');
});

t.test('errors carry Kyverno wording and the JSON pointer', async (t) => {
  const e = failure('{{ request.object.spec.nope }}');
  t.equal(e.message, 'failed to resolve request.object.spec.nope at path : JMESPath query failed: Unknown key "nope" in path');
  t.equal(e.variable, 'request.object.spec.nope');
  const nested = failure({ spec: { hard: { 'requests.cpu': '{{ tier.cpu }}' } } }, { tier: {} });
  t.equal(nested.message, 'failed to resolve tier.cpu at path /spec/hard/requests.cpu: JMESPath query failed: Unknown key "cpu" in path');
  t.equal(nested.path, '/spec/hard/requests.cpu');
  t.match(failure('x {{ request.object.spec.nope }}').message, /Unknown key "nope"/, 'embedded too');
  t.match(failure("{{ to_upper(`1`) }}").message, /^failed to resolve to_upper\(`1`\) at path : JMESPath query failed: /);
  t.match(failure('{{ a.[ }}').message, /^failed to resolve a\.\[ at path : incorrect query a\.\[: /);
  t.equal(failure('{{}}').message, 'failed to resolve  at path : invalid query (nil)');
  const withBase = compileTemplate({ x: '{{ nope.x }}' }, { basePath: '/validate/pattern' });
  let baseErr: unknown;
  try { withBase({ nope: {} }); } catch (e) { baseErr = e; }
  t.equal((baseErr as VariableError).path, '/validate/pattern/x');
  // a null field is not missing
  t.equal(sub('{{ request.oldObject.metadata.name }}'), null);
  t.equal(sub("{{ request.object.spec.nope || 'dflt' }}"), 'dflt');
});

t.test('DELETE reads request.oldObject; @ is the value at the same path', async (t) => {
  const del: ContextData = { request: { operation: 'DELETE', object: null, oldObject: object } };
  t.equal(sub('{{ request.object.metadata.name }}', del), 'web');
  const tpl = compileTemplate({ spec: { replicas: '{{ @ }}' } }, { basePath: '/validate/pattern' });
  t.equal((tpl(data) as { spec: { replicas: JsonValue } }).spec.replicas, 3);
  const tgt = compileTemplate({ metadata: { name: '{{@}}' } }, { basePath: '/mutate/patchStrategicMerge' });
  t.same(tgt({ ...data, target: { metadata: { name: 'target-name' } } }), { metadata: { name: 'target-name' } });
  const inForeach = compileTemplate({ image: '{{@}}' }, { basePath: '/validate/foreach/0/pattern' });
  t.same(inForeach({ request: { object: { image: 'x' } } }), { image: 'x' }, 'path restarts after foreach');
});

t.test('compile once', async (t) => {
  const plain = { a: ['x', { b: 1 }] };
  const tpl = compileTemplate(plain);
  t.equal(tpl(data), plain, 'identity without variables');
  t.equal(sub(plain), plain);
  const withVar = { a: '{{ element.name }}', b: { c: 'const' } };
  const tv = compileTemplate(withVar);
  const r1 = tv(data) as { a: string; b: object };
  const r2 = tv({ element: { name: 'other' } }) as { a: string; b: object };
  t.equal(r1.a, 'nginx');
  t.equal(r2.a, 'other');
  t.equal(r1.b, withVar.b, 'constant subtrees are shared');
  t.equal(hasVariables(withVar), true);
  t.equal(hasVariables(plain), false);
  t.equal(hasVariables({ '{{k}}': 1 }), true);
});

t.test('fresh templates return private copies, constant parts included', async (t) => {
  const patch = { spec: { containers: [{ '(name)': '{{ element.name }}', securityContext: { '+(runAsNonRoot)': true, capabilities: { drop: ['ALL'] } } }] } };
  const tpl = compileTemplate(patch, { fresh: true });
  const r1 = tpl(data) as typeof patch;
  const r2 = tpl(data) as typeof patch;
  t.same(r1, { spec: { containers: [{ '(name)': 'nginx', securityContext: { '+(runAsNonRoot)': true, capabilities: { drop: ['ALL'] } } }] } });
  t.not(r1.spec.containers[0]!.securityContext, patch.spec.containers[0]!.securityContext, 'not the policy\'s own object');
  t.not(r1.spec.containers[0]!.securityContext.capabilities.drop, r2.spec.containers[0]!.securityContext.capabilities.drop, 'a new copy per call');
  // Editing one result (as anchor pre-processing does) leaves the next ones intact.
  delete (r1.spec.containers[0]!.securityContext as Record<string, unknown>)['+(runAsNonRoot)'];
  t.same(tpl(data), r2);
  const constant = { a: { b: [1] } };
  const ct = compileTemplate(constant, { fresh: true });
  t.not(ct(data), constant, 'without variables too');
  t.same(ct(data), constant);
});

t.test('evaluateJMESPath', async (t) => {
  t.equal(evaluateJMESPath('request.object.metadata.name', data as JsonValue), 'web');
  t.throws(() => evaluateJMESPath('request.object.nope', data as JsonValue), { message: 'JMESPath query failed: Unknown key "nope" in path' });
  t.throws(() => evaluateJMESPath('a.[', {}), VariableError);
  t.equal(evaluateJMESPath("items[?metadata.name=='x'] || `[]` | length(@)", { items: [] }), 0);
});

t.test('context data', async (t) => {
  const input: AdmissionInput = {
    operation: 'UPDATE',
    object: object as unknown as KubeObject,
    oldObject: { ...object, metadata: { ...object.metadata, name: 'old' } } as unknown as KubeObject,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    userInfo: { username: 'system:serviceaccount:ci:deployer', groups: ['system:serviceaccounts'] },
    roles: ['ci:edit'],
    clusterRoles: ['view'],
    requestExtras: { uid: '123' },
  };
  const ctx = buildContextData(input, { element: 1 }, (o) => ({ containers: { [String(o.metadata?.name)]: {} } }));
  t.equal(sub('{{ request.operation }}', ctx), 'UPDATE');
  t.equal(sub('{{ request.oldObject.metadata.name }}', ctx), 'old');
  t.equal(sub('{{ request.namespace }}', ctx), 'prod');
  t.equal(sub('{{ request.name }}', ctx), 'web');
  t.same(sub('{{ request.kind }}', ctx), { group: '', version: 'v1', kind: 'Pod' });
  t.same(sub('{{ request.roles }}', ctx), ['ci:edit']);
  t.same(sub('{{ request.clusterRoles }}', ctx), ['view']);
  t.equal(sub('{{ request.userInfo.username }}', ctx), 'system:serviceaccount:ci:deployer');
  t.equal(sub('{{ request.uid }}', ctx), '123');
  t.equal(sub('{{ request.dryRun }}', ctx), false);
  t.equal(sub('{{ serviceAccountName }}/{{ serviceAccountNamespace }}', ctx), 'deployer/ci');
  t.same(sub('{{ images }}', ctx), { containers: { web: {} } });
  t.equal(sub('{{ element }}', ctx), 1);
  t.same(serviceAccountOf('alice'), { serviceAccountName: '', serviceAccountNamespace: '' });
  t.same(serviceAccountOf('system:serviceaccount:ns'), { serviceAccountName: '', serviceAccountNamespace: '' });
});

t.test('setVariable by dotted name', async (t) => {
  const d: ContextData = { request: { operation: 'CREATE', object: { a: 1 } } };
  const before = d.request;
  setVariable(d, 'request.operation', 'UPDATE');
  setVariable(d, 'foo.bar.baz', 'x');
  setVariable(d, 'request.object.metadata."app.io/name"', 'n');
  t.same(d, { request: { operation: 'UPDATE', object: { a: 1, metadata: { 'app.io/name': 'n' } } }, foo: { bar: { baz: 'x' } } });
  t.not(d.request, before, 'objects on the way are copied, not mutated');
  t.equal((before as { operation: string }).operation, 'CREATE');
});
