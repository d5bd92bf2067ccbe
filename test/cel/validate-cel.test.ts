import t from 'tap';
import { compileCelValidation } from '../../src/cel/validate-cel.ts';
import { CelPolicyCompileError } from '../../src/cel/program.ts';
import type { JsonObject } from '../../src/engine/types.ts';

const pod = (spec: JsonObject, labels: Record<string, string> = {}): JsonObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a', labels }, spec,
});
const env = (object: JsonObject | null, extra: Partial<{ oldObject: JsonObject; params: JsonObject }> = {}) => ({
  object, oldObject: extra.oldObject ?? null, request: { operation: 'CREATE' }, namespaceObject: { metadata: { name: 'team-a' } }, ...('params' in extra ? { params: extra.params! } : {}),
});

t.test('pass message names the rule; failures use message, then the rule message, then the expression', async (t) => {
  const withMsg = compileCelValidation({ expressions: [{ expression: 'object.spec.hostNetwork != true', message: 'host network is not allowed' }] }, 'no-host-net');
  t.same(withMsg(env(pod({ hostNetwork: false }))), { status: 'pass', message: "Validation rule 'no-host-net' passed." });
  t.same(withMsg(env(pod({ hostNetwork: true }))), { status: 'fail', message: 'host network is not allowed' });

  const ruleMsg = compileCelValidation({ expressions: [{ expression: 'false' }] }, 'r', { message: 'from validate.message' });
  t.equal(ruleMsg(env(pod({}))).message, 'from validate.message');

  const bare = compileCelValidation({ expressions: [{ expression: '  1 == 2 ' }] }, 'r');
  t.equal(bare(env(pod({}))).message, 'failed expression: 1 == 2');
});

t.test('messageExpression wins when it yields a non-empty single-line string', async (t) => {
  const run = compileCelValidation({
    expressions: [{ expression: 'size(object.spec.containers) < 2', message: 'static', messageExpression: "'too many containers: ' + string(size(object.spec.containers))" }],
  }, 'r');
  t.same(run(env(pod({ containers: [{}, {}, {}] }))), { status: 'fail', message: 'too many containers: 3' });
  const empty = compileCelValidation({ expressions: [{ expression: 'false', message: 'static', messageExpression: "''" }] }, 'r');
  t.equal(empty(env(pod({}))).message, 'static');
});

t.test('an evaluation error denies (failurePolicy Fail) with the expression and the CEL error', async (t) => {
  const run = compileCelValidation({ expressions: [{ expression: 'object.spec.missing == 1' }] }, 'r');
  t.same(run(env(pod({}))), { status: 'fail', message: "expression 'object.spec.missing == 1' resulted in error: no such key: missing" });
  const nonBool = compileCelValidation({ expressions: [{ expression: '1' }] }, 'r');
  t.equal(nonBool(env(pod({}))).status, 'fail');
  t.match(nonBool(env(pod({}))).message, /must return a boolean/);
});

t.test('variables are lazy and shared; celPreconditions skip the rule', async (t) => {
  const run = compileCelValidation({
    variables: [
      { name: 'containers', expression: 'object.spec.containers' },
      { name: 'boom', expression: 'object.spec.nothere' },
      { name: 'privileged', expression: 'variables.containers.filter(c, c.?securityContext.?privileged.orValue(false))' },
    ],
    expressions: [{ expression: 'size(variables.privileged) == 0', messageExpression: "'privileged: ' + variables.privileged.map(c, c.name).join(', ')" }],
  }, 'no-priv', { celPreconditions: [{ name: 'only-labelled', expression: "has(object.metadata.labels) && 'app' in object.metadata.labels" }] });
  t.same(run(env(pod({ containers: [{ name: 'a', securityContext: { privileged: true } }, { name: 'b' }] }, { app: 'x' }))), { status: 'fail', message: 'privileged: a' });
  t.equal(run(env(pod({ containers: [{ name: 'a' }] }, { app: 'x' }))).status, 'pass', 'the failing variable is never evaluated');
  t.same(run(env(pod({ containers: [] }))), { status: 'skip', message: 'cel preconditions not met' });
});

t.test('oldObject, request and namespaceObject are bound', async (t) => {
  const run = compileCelValidation({
    expressions: [
      { expression: "request.operation != 'UPDATE' || object.spec.nodeName == oldObject.spec.nodeName", message: 'nodeName is immutable' },
      { expression: "namespaceObject.metadata.name != 'default'", message: 'no default' },
    ],
  }, 'r');
  t.equal(run({ ...env(pod({ nodeName: 'b' })), oldObject: pod({ nodeName: 'a' }), request: { operation: 'UPDATE' } }).message, 'nodeName is immutable');
  t.equal(run({ ...env(pod({})), namespaceObject: { metadata: { name: 'default' } } }).message, 'no default');
  t.equal(run(env(pod({}))).status, 'pass');
});

t.test('paramKind: params come from the resolver, once per param; absent resolver means null params', async (t) => {
  const spec = { paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, paramRef: { name: 'limits' }, expressions: [{ expression: 'params == null || size(object.spec.containers) <= int(params.data.max)', messageExpression: "'max ' + params.data.max" }] };
  const calls: string[] = [];
  const run = compileCelValidation(spec, 'r', {
    resolveParams: (kind, ref, ns) => {
      calls.push(`${String(kind.kind)}/${String(ref?.name)}@${ns}`);
      return [{ data: { max: '5' } }, { data: { max: '1' } }];
    },
  });
  t.same(run(env(pod({ containers: [{}, {}] }))), { status: 'fail', message: 'max 1' });
  t.same(calls, ['ConfigMap/limits@team-a']);
  const failing = compileCelValidation(spec, 'r', { resolveParams: () => { throw new Error('not found'); } });
  t.same(failing(env(pod({ containers: [] }))), { status: 'error', message: 'error in parameterized resource: not found' });
  t.equal(compileCelValidation(spec, 'r')(env(pod({ containers: [{}, {}] }))).status, 'pass');
});

t.test('auditAnnotations are evaluated on pass', async (t) => {
  const run = compileCelValidation({ expressions: [{ expression: 'true' }], auditAnnotations: [{ key: 'replicas', valueExpression: "'n=' + string(object.spec.replicas)" }] }, 'r');
  t.same(run(env(pod({ replicas: 2 }))).auditAnnotations, { replicas: 'n=2' });
});

t.test('compile errors name the list, index and position', async (t) => {
  const e = t.throws(() => compileCelValidation({ expressions: [{ expression: 'true' }, { expression: 'object.spec +' }] }, 'r')) as unknown as CelPolicyCompileError;
  t.type(e, CelPolicyCompileError);
  t.equal(e.field, 'validate.cel.expressions');
  t.equal(e.index, 1);
  t.match(e.message, /validate\.cel\.expressions\[1\]\.expression: .*<input>:1:13/);
  t.throws(() => compileCelValidation({ variables: [{ name: 'v', expression: 'nope(1)' }], expressions: [] }, 'r'), /validate\.cel\.variables\[0\].*undeclared reference to 'nope'/);
  t.throws(() => compileCelValidation({ expressions: [{ expression: 'true', messageExpression: 'object.(' }] }, 'r'), /expressions\[0\]\.messageExpression/);
});
