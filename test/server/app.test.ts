import t from 'tap';
import { buildApp, type AppOptions } from '../../src/server/app.ts';
import { PolicyStore, type Decider } from '../../src/server/policy-set.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import { captureLogger, policy, pod, results, review, rule, scripted } from './fixtures/helpers.ts';

function setup(policies: CompiledPolicy[], decider: Decider, extra: Partial<AppOptions> & { budgetMs?: number } = {}) {
  const store = new PolicyStore({ budgetMs: extra.budgetMs ?? 8000, createDecider: () => decider });
  store.install(policies);
  const log = captureLogger();
  const app = buildApp({ policies: store, logger: log.logger, ...extra });
  return { app, store, log };
}

function post(app: ReturnType<typeof buildApp>, url: string, payload: unknown, contentType = 'application/json') {
  return app.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': contentType } });
}

const privileged = policy({ name: 'disallow-privileged-containers', rules: [{ name: 'privileged-containers' }] });
const audit = policy({ name: 'require-labels', validationFailureAction: 'Audit', rules: [{ name: 'check-team' }] });

t.test('allowed review: uid echoed, same apiVersion, no status', async (t) => {
  const decider = scripted((input) => results(input, [{ policy: privileged, rules: [rule('privileged-containers', 'pass')] }]));
  const { app } = setup([privileged], decider);
  const res = await post(app, '/validate', review({ uid: 'abc-1' }));
  t.equal(res.statusCode, 200);
  t.same(res.json(), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'abc-1', allowed: true } });
  t.equal(decider.calls[0]!.options.mode, 'validate');
});

t.test('denied review: 403 status listing the failed Enforce rule, Audit failure as warning', async (t) => {
  const decider = scripted((input) => results(input, [
    { policy: privileged, rules: [rule('privileged-containers', 'fail', 'Privileged mode is disallowed.')] },
    { policy: audit, rules: [rule('check-team', 'fail', 'label team is required')] },
  ]));
  const { app, log } = setup([privileged, audit], decider);
  const res = await post(app, '/validate', review({ uid: 'u-2', object: pod('web') }));
  const body = res.json();
  t.equal(body.response.uid, 'u-2');
  t.equal(body.response.allowed, false);
  t.equal(body.response.status.code, 403);
  t.equal(body.response.status.status, 'Failure');
  t.equal(body.response.status.message,
    '\n\npolicy Pod/default/web for resource violation: \n\ndisallow-privileged-containers:\n  privileged-containers: Privileged mode is disallowed.\n');
  t.same(body.response.warnings, ['policy require-labels.check-team: label team is required']);
  const decisions = log.lines.filter((l) => l.msg === 'admission decision');
  t.equal(decisions.length, 1, 'one info line per decision');
  t.match(decisions[0], { level: 30, uid: 'u-2', kind: 'Pod', namespace: 'default', name: 'web', operation: 'CREATE', allowed: false, failed: ['disallow-privileged-containers/privileged-containers'] });
  t.notOk(log.text().includes('registry.company.com'), 'no object contents in logs');
});

t.test('warn results become warnings on an allowed answer', async (t) => {
  const decider = scripted((input) => results(input, [{ policy: privileged, rules: [rule('privileged-containers', 'warn', 'heads up')] }]));
  const { app } = setup([privileged], decider);
  const body = (await post(app, '/validate', review())).json();
  t.equal(body.response.allowed, true);
  t.same(body.response.warnings, ['policy disallow-privileged-containers.privileged-containers: heads up']);
});

t.test('v1beta1 is answered in v1beta1', async (t) => {
  const decider = scripted((input) => results(input, []));
  const { app } = setup([], decider);
  const body = (await post(app, '/validate', review({ apiVersion: 'admission.k8s.io/v1beta1', uid: 'b1' }))).json();
  t.same(body, { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', response: { uid: 'b1', allowed: true } });
});

t.test('/mutate returns a base64 JSONPatch and runs the engine in mutate mode', async (t) => {
  const defaults = policy({ name: 'add-default-securitycontext', rules: [{ name: 'add-sc', type: 'Mutation' }] });
  const patches = [{ op: 'add' as const, path: '/spec/securityContext', value: { runAsNonRoot: true } }];
  const decider = scripted((input) => results(input, [{ policy: defaults, rules: [rule('add-sc', 'pass', 'mutated', 'Mutation')] }], patches));
  const { app } = setup([defaults], decider);
  const body = (await post(app, '/mutate', review({ uid: 'm1' }))).json();
  t.equal(decider.calls[0]!.options.mode, 'mutate');
  t.equal(body.response.allowed, true);
  t.equal(body.response.patchType, 'JSONPatch');
  t.same(JSON.parse(Buffer.from(body.response.patch, 'base64').toString()), patches);

  const none = scripted((input) => results(input, []));
  const plain = setup([defaults], none).app;
  const b2 = (await post(plain, '/mutate', review())).json();
  t.notOk('patch' in b2.response, 'no patch when nothing changed');
  t.notOk('patchType' in b2.response);
});

t.test('AdmissionInput is built from the request', async (t) => {
  const decider = scripted((input) => results(input, []));
  const { app } = setup([], decider);
  const oldPod = pod('web');
  await post(app, '/validate', review({
    uid: 'in-1', operation: 'UPDATE', namespace: 'team-a', name: 'web', object: pod('web'), oldObject: oldPod,
    dryRun: true, subResource: 'status', kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    userInfo: { username: 'bob', groups: ['devs'] },
  }));
  const input = decider.calls[0]!.input;
  t.equal(input.operation, 'UPDATE');
  t.same(input.kind, { group: 'apps', version: 'v1', kind: 'Deployment' });
  t.equal(input.namespace, 'team-a');
  t.equal(input.name, 'web');
  t.equal(input.dryRun, true);
  t.equal(input.subResource, 'status');
  t.same(input.userInfo, { username: 'bob', groups: ['devs'] });
  t.same(input.oldObject, oldPod);
  t.equal((input.object as { kind: string }).kind, 'Pod');

  await post(app, '/validate', review({ operation: 'DELETE', namespace: '', object: null, oldObject: pod('gone') }));
  const del = decider.calls[1]!.input;
  t.equal(del.object, null);
  t.equal(del.namespace, 'default', 'namespace falls back to the old object');
  t.equal(del.name, 'gone');
});

t.test('bad input gets clear 4xx answers, logged once at warn, and the server keeps serving', async (t) => {
  const decider = scripted((input) => results(input, []));
  const { app, log } = setup([], decider, { bodyLimit: 4096, maxDepth: 20 });
  const cases: Array<[string, () => Promise<{ statusCode: number; json: () => { message: string } }>, number, RegExp]> = [
    ['non-JSON', () => post(app, '/validate', '{"apiVersion": nope'), 400, /not valid JSON/],
    ['wrong kind', () => post(app, '/validate', { ...review(), kind: 'Pod' }), 400, /invalid AdmissionReview: .*kind/],
    ['wrong apiVersion', () => post(app, '/validate', { ...review(), apiVersion: 'admission.k8s.io/v2' }), 400, /invalid AdmissionReview: .*apiVersion/],
    ['missing request', () => post(app, '/validate', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 400, /request/],
    ['missing uid', () => { const r = review(); delete (r.request as Record<string, unknown>).uid; return post(app, '/validate', r); }, 400, /uid/],
    ['CREATE without object', () => { const r = review(); delete (r.request as Record<string, unknown>).object; return post(app, '/validate', r); }, 400, /object/],
    ['object of the wrong shape', () => post(app, '/validate', review({ object: 'a string' })), 400, /object/],
    ['bad operation', () => post(app, '/mutate', review({ operation: 'PATCH' })), 400, /operation/],
    ['unsupported content type', () => post(app, '/validate', 'hello', 'text/plain'), 415, /.+/],
    ['body over the limit', () => post(app, '/validate', review({ object: pod('big', { data: 'x'.repeat(8000) }) })), 413, /.+/],
    ['deep nesting', () => post(app, '/validate', review({ object: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) })), 400, /deeper than 20/],
  ];
  for (const [name, send, status, message] of cases) {
    const before = log.lines.length;
    const res = await send();
    t.equal(res.statusCode, status, `${name}: status`);
    t.match(res.json().message, message, `${name}: message`);
    const added = log.lines.slice(before);
    t.equal(added.filter((l) => l.level === 40).length, 1, `${name}: logged once at warn`);
  }
  t.notOk(log.text().includes('xxxxxxxx'), 'bodies never logged');
  t.equal(decider.calls.length, 0, 'nothing reached the engine');
  const ok = await post(app, '/validate', review());
  t.equal(ok.statusCode, 200, 'still serving');
});

t.test('deadline: a hung engine yields the failurePolicy answer, never a hung request', async (t) => {
  const hang = scripted(() => new Promise(() => {}));
  const failing = setup([policy({ name: 'strict', failurePolicy: 'Fail' })], hang, { budgetMs: 30 });
  const denied = (await post(failing.app, '/validate', review({ uid: 't1' }))).json();
  t.equal(denied.response.uid, 't1');
  t.equal(denied.response.allowed, false);
  t.match(denied.response.status.message, /did not finish within 30ms; denied because failurePolicy is Fail/);

  const lenient = setup([policy({ name: 'lenient', failurePolicy: 'Ignore' })], hang, { budgetMs: 30 });
  const allowed = (await post(lenient.app, '/validate', review({ uid: 't2' }))).json();
  t.equal(allowed.response.allowed, true);
  t.match(allowed.response.warnings[0], /did not finish within 30ms; allowed because failurePolicy is Ignore/);
  t.ok(lenient.log.lines.some((l) => l.level === 40 && l.msg === 'admission review not evaluated'));
});

t.test('failurePolicy per webhook: only policies with rules of that kind count', async (t) => {
  const hang = scripted(() => new Promise(() => {}));
  const policies = [
    policy({ name: 'mutator', failurePolicy: 'Ignore', rules: [{ name: 'm', type: 'Mutation' }] }),
    policy({ name: 'validator', failurePolicy: 'Fail', rules: [{ name: 'v', type: 'Validation' }] }),
  ];
  const { app } = setup(policies, hang, { budgetMs: 20 });
  t.equal((await post(app, '/mutate', review())).json().response.allowed, true);
  t.equal((await post(app, '/validate', review())).json().response.allowed, false);
});

t.test('policy webhookTimeoutSeconds bounds the budget', async (t) => {
  const store = new PolicyStore({ budgetMs: 8000, createDecider: () => scripted((i) => results(i, [])) });
  t.equal(store.install([policy({ name: 'a', webhookTimeoutSeconds: 3 })]).budgetMs, 2700);
  t.equal(store.install([policy({ name: 'b' })]).budgetMs, 8000);
});

t.test('engine throw applies failurePolicy', async (t) => {
  const thrower = scripted(() => { throw new Error('jmespath exploded'); });
  const { app } = setup([policy({ name: 'strict' })], thrower);
  const body = (await post(app, '/validate', review())).json();
  t.equal(body.response.allowed, false);
  t.match(body.response.status.message, /policy evaluation failed: jmespath exploded; denied because failurePolicy is Fail/);
});

t.test('health and readiness', async (t) => {
  const store = new PolicyStore({ budgetMs: 1000, createDecider: () => scripted((i) => results(i, [])) });
  let certOk = false;
  const app = buildApp({ policies: store, notReady: () => (certOk ? [] : ['certificate not loaded']) });
  t.equal((await app.inject('/healthz')).statusCode, 200);
  const notReady = await app.inject('/readyz');
  t.equal(notReady.statusCode, 503);
  t.same(notReady.json().reasons, ['no policy set loaded', 'certificate not loaded']);
  t.equal((await post(app, '/validate', review())).statusCode, 503, 'no review answered without a policy set');
  store.install([]);
  t.equal((await app.inject('/readyz')).statusCode, 503);
  certOk = true;
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready', generation: 1 });
});

t.test('a slow client gets 408 and the server keeps serving', async (t) => {
  const { connect } = await import('node:net');
  const decider = scripted((input) => results(input, []));
  const { app } = setup([], decider, { requestTimeoutMs: 200 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  const reply = await new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      // Headers promise a body that never fully arrives.
      socket.write('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVersion"');
    });
    let data = '';
    socket.on('data', (c) => (data += c));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  t.match(reply, /^HTTP\/1\.1 408/);
  const ok = await post(app, '/validate', review());
  t.equal(ok.statusCode, 200);
});

t.test('debug logs carry per-rule detail, but never a Secret\'s messages or data', async (t) => {
  const secretPolicy = policy({ name: 'no-plain-secrets', rules: [{ name: 'check' }] });
  const decider = scripted((input) => results(input, [{ policy: secretPolicy, rules: [rule('check', 'fail', `value ${JSON.stringify(input.object)} is not allowed`)] }]));
  const store = new PolicyStore({ budgetMs: 8000, createDecider: () => decider });
  store.install([secretPolicy]);
  const log = captureLogger('debug');
  const app = buildApp({ policies: store, logger: log.logger });
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { password: 'c3VwZXJzZWNyZXQ=' } };
  const res = await post(app, '/validate', review({ kind: { group: '', version: 'v1', kind: 'Secret' }, object: secret }));
  t.equal(res.json().response.allowed, false);
  t.ok(log.lines.some((l) => l.msg === 'rule result' && l.policy === 'no-plain-secrets' && l.status === 'fail'), 'per-rule debug line');
  t.notOk(log.text().includes('c3VwZXJzZWNyZXQ='), 'Secret data never logged');

  await post(app, '/validate', review({ object: pod('web') }));
  t.ok(log.lines.some((l) => l.msg === 'rule result' && typeof l.message === 'string'), 'messages logged for non-Secrets at debug');
});

t.test('a DeletingPolicy loaded by the server gives admission requests no result: no denial, no warning', async (t) => {
  // A cleanup policy matching every Pod (failurePolicy Fail by default), next to a ValidatingPolicy
  // that still denies: Kyverno only evaluates DeletingPolicies on their schedule, never at admission.
  const dir = t.testdir({
    'dpol.yaml': `apiVersion: policies.kyverno.io/v1
kind: DeletingPolicy
metadata: {name: cleanup-pods}
spec:
  schedule: "*/5 * * * *"
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE, UPDATE, DELETE], resources: [pods]}]
  conditions: [{name: always, expression: 'true'}]
`,
    'vpol.yaml': `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-latest}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations: [{expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))", message: no latest}]
`,
  });
  const store = new PolicyStore({ budgetMs: 8000, paths: [dir] });
  t.same(await store.reload(), { ok: true, errors: [] });
  t.same(store.current!.policies.map((p) => `${p.kind}/${p.name}`).sort(), ['DeletingPolicy/cleanup-pods', 'ValidatingPolicy/no-latest']);
  const { logger } = captureLogger();
  const app = buildApp({ policies: store, logger });
  const allowed = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'd', allowed: true } };
  for (const url of ['/validate', '/mutate']) {
    t.same((await post(app, url, review({ uid: 'd', object: pod('web') }))).json(), allowed, `${url}: CREATE`);
    t.same((await post(app, url, review({ uid: 'd', operation: 'DELETE', object: null, oldObject: pod('web') }))).json(), allowed, `${url}: DELETE`);
  }
  const latest = (await post(app, '/validate', review({ uid: 'l', object: pod('web', { spec: { containers: [{ name: 'c', image: 'nginx:latest' }] } }) }))).json();
  t.equal(latest.response.allowed, false, 'the ValidatingPolicy next to it still denies');
  t.match(latest.response.status.message, /no-latest/);
  t.notMatch(latest.response.status.message, /cleanup-pods/);
});

t.test('a mutate-existing rule (mutate.targets) does not mutate the admitted object: Kyverno mutates targets in the background', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: touch-secrets}
spec:
  rules:
  - name: touch
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      targets: [{apiVersion: v1, kind: Secret, name: creds, namespace: "{{request.object.metadata.namespace}}"}]
      patchStrategicMerge:
        metadata:
          annotations: {used-by: "{{request.object.metadata.name}}"}
`,
  });
  const store = new PolicyStore({ budgetMs: 8000, paths: [dir] });
  t.same(await store.reload(), { ok: true, errors: [] });
  const { logger } = captureLogger();
  const app = buildApp({ policies: store, logger });
  t.same((await post(app, '/mutate', review({ uid: 'm', object: pod('web') }))).json(),
    { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'm', allowed: true } }, 'no patch, no warning');
});
