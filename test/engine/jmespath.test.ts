import t from 'tap';
import { searchJMESPath, compileQuery, NotFoundError, JMESPathSyntaxError } from '../../src/engine/jmespath/index.ts';
import type { JsonValue } from '../../src/engine/types.ts';

const q = (expr: string, data: JsonValue = {}): JsonValue => searchJMESPath(expr, data);
const err = (expr: string, data: JsonValue = {}): string => {
  try {
    searchJMESPath(expr, data);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

const pod: JsonValue = {
  request: {
    object: {
      metadata: { name: 'web', labels: { app: 'web', 'app.kubernetes.io/name': 'web' }, annotations: null },
      spec: {
        containers: [
          { name: 'a', image: 'nginx:1.25', resources: { requests: { memory: '64Mi' }, limits: { memory: '128Mi' } } },
          { name: 'b', image: 'ghcr.io/x/y:2', securityContext: { capabilities: { drop: ['all'] } } },
        ],
      },
    },
  },
};

t.test('missing keys: Kyverno errors only when the miss reaches the top', async (t) => {
  t.equal(q('request.object.metadata.name', pod), 'web');
  t.equal(err('request.object.metadata.namespace', pod), 'Unknown key "namespace" in path');
  t.ok(err('request.object.metadata.namespace', pod).length > 0);
  t.equal(err('request.object.spec.volumes[0]', pod), 'Unknown key "volumes" in path');
  t.equal(err('request.object.spec.containers[0].foo', pod), 'Unknown key "foo" in path');
  // explicit null is not a miss; neither is a lookup below null
  t.equal(q('request.object.metadata.annotations', pod), null);
  t.equal(q('request.object.metadata.annotations.foo', pod), null);
  // swallowed by ||, projections, filters, functions and pipes
  t.equal(q("request.object.metadata.namespace || 'default'", pod), 'default');
  t.same(q('request.object.spec.containers[].securityContext', pod), [{ capabilities: { drop: ['all'] } }]);
  t.same(q('request.object.spec.volumes[].name', pod), null);
  t.same(q("request.object.spec.containers[?name == 'zz']", pod), []);
  t.equal(q('not_null(request.object.metadata.namespace, `1`)', pod), 1);
  t.equal(q('request.object.metadata.namespace | length(@ || `[]`)', pod), 0);
  t.equal(q('request.object.spec.containers[0].missing == `null`', pod), true);
  // the right side of && propagates
  t.equal(err('request.object.metadata.name && request.object.metadata.nope', pod), 'Unknown key "nope" in path');
  t.equal(q('request.object.metadata.nope && request.object.metadata.name', pod), null);
  // quoted keys
  t.equal(q('request.object.metadata.labels."app.kubernetes.io/name"', pod), 'web');
});

t.test('compile once, syntax errors cached', async (t) => {
  t.equal(compileQuery('a.b'), compileQuery('a.b'));
  for (let i = 0; i < 2; i++) {
    let thrown: unknown;
    try { compileQuery('a.['); } catch (e) { thrown = e; }
    t.ok(thrown instanceof JMESPathSyntaxError, 'syntax error (also when cached)');
  }
  t.type(new NotFoundError('x'), Error);
});

t.test('string functions', async (t) => {
  t.equal(q("compare('a', 'b')"), -1);
  t.equal(q("compare('b', 'b')"), 0);
  t.equal(q("compare('c', 'b')"), 1);
  t.equal(q("equal_fold('Kyverno', 'kYVERNO')"), true);
  t.equal(q("equal_fold('a', 'b')"), false);
  t.equal(q("replace('aaaa', 'a', 'b', `2`)"), 'bbaa');
  t.equal(q("replace('aaaa', 'a', 'b', `-1`)"), 'bbbb');
  t.equal(q("replace('ab', '', '-', `-1`)"), '-a-b-');
  t.equal(q("replace_all('x.y.z', '.', '/')"), 'x/y/z');
  t.equal(q("to_upper('abc')"), 'ABC');
  t.equal(q("to_lower('ABC')"), 'abc');
  t.equal(q("trim('  ¡¡¡Hello, Gophers!!!  ', ' !¡')"), 'Hello, Gophers');
  t.equal(q("trim_prefix('docker.io/nginx', 'docker.io/')"), 'nginx');
  t.equal(q("trim_prefix('nginx', 'docker.io/')"), 'nginx');
  t.same(q("split('a:b:c', ':')"), ['a', 'b', 'c']);
  t.same(q("split('abc', '')"), ['a', 'b', 'c']);
  t.same(q("split('', ',')"), ['']);
  t.equal(q("truncate('kyverno', `3`)"), 'kyv');
  t.equal(q("truncate('kyverno', `30`)"), 'kyverno');
  t.equal(q("truncate('kyverno', `-1`)"), '');
  t.equal(q("path_canonicalize('/a//b/./c/../d/')"), '/a/b/d');
  t.equal(q("path_canonicalize('//etc/passwd')"), '/etc/passwd');
  t.equal(q("to_boolean('TrUe')"), true);
  t.equal(q("to_boolean('false')"), false);
  t.match(err("to_boolean('yes')"), "JMESPath function 'to_boolean': lowercase argument must be 'true' or 'false' (provided: 'yes')");
  t.match(err("to_upper(`1`)"), /to_upper/);
});

t.test('regex and wildcard functions', async (t) => {
  t.equal(q("regex_match('^[0-9]+%$', '50%')"), true);
  t.equal(q("regex_match('^[0-9]+%$', '50')"), false);
  t.equal(q("regex_match('\\bps\\b', 'ps -ef')"), true);
  t.equal(q("regex_match('^1.5$', `1.5`)"), true, 'numbers are matched as text');
  t.equal(q("regex_match('(?i)^NGINX', 'nginx:latest')"), true, 'Go leading flags');
  t.equal(q("regex_match('^(?P<reg>[a-z]+)/', 'ghcr/x')"), true, 'Go named groups');
  t.equal(q("regex_match('^[[:digit:]]+$', '123')"), true, 'POSIX classes');
  t.match(err("regex_match('(', 'x')"), /error parsing regexp/);
  t.match(err("regex_match('(a)\\1', 'aa')"), 'error parsing regexp: invalid escape sequence', 'backreferences are not RE2');
  t.match(err("regex_match('a(?=b)', 'ab')"), 'invalid or unsupported Perl syntax', 'lookahead is not RE2');
  t.equal(q("regex_match('^(a+)+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab')"), false, 'no catastrophic backtracking');
  t.equal(
    q("regex_replace_all('^(localhost/|(?:[a-z0-9]+\\.)+[a-z0-9]+/)?(.*)$', 'ghcr.io/org/app:1', 'myregistry.corp.com/$2')"),
    'myregistry.corp.com/org/app:1',
  );
  t.equal(q("regex_replace_all('([a-z]+)-([0-9]+)', 'abc-123', '${2}_${1}')"), '123_abc');
  t.equal(q("regex_replace_all('(a)', 'a', '$1x')"), '', 'Go reads $1x as the group named 1x');
  t.equal(q("regex_replace_all('a*', 'baaac', 'X')"), 'XbXcX', 'Go skips empty matches next to a match');
  t.equal(q("regex_replace_all_literal('[0-9]', 'a1b2', '$1')"), 'a$1b$1');
  t.equal(q("regex_replace_all('\\.', `1.5`, '_')"), '1_5');
  t.equal(q("pattern_match('nginx:*', 'nginx:1.2')"), true);
  t.equal(q("pattern_match('ng?nx', 'nginx')"), true);
  t.equal(q("pattern_match('ng?nx', 'nginxx')"), false);
});

t.test('arithmetic: numbers, quantities and durations', async (t) => {
  t.equal(q('add(`1`, `2`)'), 3);
  t.equal(q("add('100Mi', '100Mi')"), '200Mi');
  t.equal(q("add('1Gi', '512Mi')"), '1536Mi');
  t.equal(q("add('500m', '500m')"), '1');
  t.equal(q("add('1', '500m')"), '1500m');
  t.equal(q("add('1k', '1k')"), '2k');
  t.equal(q("add('1h', '30s')"), '1h0m30s');
  t.match(err("add('1h', '30m')"), 'types mismatch', '"30m" is a quantity (30 milli), not minutes');
  t.equal(q("add('1m', '1m')"), '2m', '"1m" is a milli-quantity, not a minute');
  t.match(err("add('1h', `1`)"), "JMESPath function 'add': types mismatch");
  t.match(err("add('abc', `1`)"), "JMESPath function 'add': invalid operands");
  t.equal(q("subtract('1Gi', '512Mi')"), '512Mi');
  t.equal(q("subtract('1h', '5400s')"), '-30m0s');
  t.equal(q('subtract(`5`, `7`)'), -2);
  t.equal(q('multiply(`3`, `4`)'), 12);
  t.equal(q("multiply('100Mi', `3`)"), '300Mi');
  t.equal(q("multiply(`2`, '250m')"), '500m');
  t.equal(q("multiply('1h', `1.5`)"), '1h30m0s');
  t.equal(q("multiply(`2`, '10s')"), '20s');
  t.match(err("multiply('1Gi', '1Gi')"), 'types mismatch');
  t.equal(q('divide(`10`, `4`)'), 2.5);
  t.equal(q("divide('1Gi', '1Mi')"), 1024);
  t.equal(q("divide('1h', '1800s')"), 2);
  t.equal(q("divide('1Gi', `4`)"), '256Mi');
  t.equal(q("divide('1', `3`)"), '0', 'quantity ÷ number rounds down at the larger scale');
  t.equal(q("divide('1h', `4`)"), '15m0s');
  t.match(err('divide(`1`, `0`)'), "JMESPath function 'divide': Zero divisor passed");
  t.match(err("divide('1Gi', '0')"), 'Zero divisor passed');
  t.match(err("divide(`1`, '1Gi')"), 'types mismatch');
  t.equal(q("divide('{{x}}', '1')".replace("'{{x}}'", "'128Mi'")), 134217728);
  t.equal(q('modulo(`7`, `3`)'), 1);
  t.equal(q('modulo(`-7`, `3`)'), -1);
  t.match(err('modulo(`7.5`, `3`)'), 'Non-integer argument(s) passed for modulo');
  t.match(err('modulo(`7`, `0`)'), 'Zero divisor passed');
  t.equal(q("modulo('7Gi', '2Gi')"), '1Gi');
  t.equal(q("modulo('5400s', '1h')"), '30m0s');
  t.equal(q('sum(`[1, 2, 3]`)'), 6);
  t.equal(q("sum(['1Gi', '1Gi', '512Mi'])"), '2560Mi');
  t.equal(q("sum(['10s', '1h'])"), '1h0m10s');
  t.equal(q("sum(['1Gi'])"), '1Gi');
  t.match(err('sum(`[]`)'), "JMESPath function 'sum': at least one element in the array is required");
  t.equal(q('round(`1.2345`, `2`)'), 1.23);
  t.equal(q('round(`2.5`, `0`)'), 3);
  t.equal(q('round(`-2.5`, `0`)'), -3, 'half away from zero');
  t.match(err('round(`1.5`, `-1`)'), 'out of bounds');
  t.match(err('round(`1.5`, `1.5`)'), 'Non-integer');
});

t.test('time functions', async (t) => {
  t.equal(q("time_since('', '2021-01-01T00:00:00Z', '2021-01-02T01:00:00Z')"), '25h0m0s');
  t.equal(q("time_since('2006-01-02', '2021-01-01', '2021-01-03')"), '48h0m0s');
  t.match(q("time_since('', '2021-01-01T00:00:00Z', '')") as string, /^[0-9]+h[0-9]+m[0-9.]+s$/);
  t.match(q('time_now()') as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  t.match(q('time_now_utc()') as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.equal(q("time_add('2021-01-01T00:00:00Z', '1h30m')"), '2021-01-01T01:30:00Z');
  t.equal(q("time_add('2021-01-01T00:00:00+02:00', '-3h')"), '2020-12-31T21:00:00+02:00', 'offset kept');
  t.equal(q("time_parse('2006-01-02T15:04:05Z07:00', '2021-01-02T15:04:05+01:00')"), '2021-01-02T15:04:05+01:00');
  t.equal(q("time_parse('Mon Jan _2 15:04:05 2006', 'Sat Jan  2 15:04:05 2021')"), '2021-01-02T15:04:05Z');
  t.equal(q("time_parse('02 Jan 06 15:04 MST', '02 Jan 21 15:04 UTC')"), '2021-01-02T15:04:00Z');
  t.equal(q("time_parse('1136239445', '1136239445')"), '2006-01-02T22:04:05Z', 'numeric layout = epoch seconds');
  t.equal(q("time_parse('2006-01-02 3:04PM', '2021-06-01 1:30PM')"), '2021-06-01T13:30:00Z');
  t.match(err("time_parse('2006-01-02', 'nope')"), /parsing time/);
  t.equal(q("time_to_cron('2021-02-02T15:04:05Z')"), '4 15 2 2 2');
  t.equal(q("time_utc('2021-01-02T18:04:05+05:30')"), '2021-01-02T12:34:05Z');
  t.equal(q("time_diff('2021-01-01T00:00:00Z', '2021-01-01T00:00:01.5Z')"), '1.5s');
  t.equal(q("time_diff('2021-01-02T00:00:00Z', '2021-01-01T00:00:00Z')"), '-24h0m0s');
  t.equal(q("time_before('2021-01-01T00:00:00Z', '2021-01-02T00:00:00Z')"), true);
  t.equal(q("time_after('2021-01-01T00:00:00Z', '2021-01-02T00:00:00Z')"), false);
  t.equal(q("time_between('2021-01-02T00:00:00Z', '2021-01-01T00:00:00Z', '2021-01-03T00:00:00Z')"), true);
  t.equal(q("time_between('2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z', '2021-01-03T00:00:00Z')"), false, 'exclusive');
  t.equal(q("time_truncate('2021-01-02T15:04:05Z', '1h')"), '2021-01-02T15:00:00Z');
  t.equal(q("time_truncate('2021-01-02T15:04:05+01:00', '24h')"), '2021-01-02T01:00:00+01:00', 'truncation is on the absolute time, not the local clock');
  t.match(err("time_add('2021-01-01T00:00:00Z', 'soon')"), /invalid duration/);
});

t.test('data functions', async (t) => {
  const labels = { app: 'web', tier: 'fe' };
  t.equal(q('label_match(`{"app":"web"}`, @)', labels), true);
  t.equal(q('label_match(`{"app":"db"}`, @)', labels), false);
  t.equal(q('label_match(`{}`, @)', labels), true);
  t.equal(q("lookup(@, 'tier')", labels), 'fe');
  t.equal(q("lookup(@, 'nope')", labels), null);
  t.equal(q('lookup(`[1,2]`, `1`)'), 2);
  t.equal(q('lookup(`[1,2]`, `5`)'), null);
  t.match(err("lookup(`[1,2]`, 'a')"), "2 argument is expected of Number type");
  t.same(q("items(@, 'key', 'value')", { b: 2, a: 1 }), [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
  t.same(q("items(`[\"x\",\"y\"]`, 'i', 'v')"), [{ i: 0, v: 'x' }, { i: 1, v: 'y' }]);
  t.same(q("object_from_lists(`[\"a\",\"b\"]`, `[1]`)"), { a: 1, b: null });
  t.same(q("parse_json('{\"a\": [1, true]}')"), { a: [1, true] });
  t.match(err("parse_json('{')"), /JSON/);
  t.same(q("parse_yaml('a: 1\nb: [x, z]\nc: yes\nd: off')"), { a: 1, b: ['x', 'z'], c: true, d: false }, 'YAML 1.1 booleans');
  t.equal(q("parse_yaml('')"), null);
  t.same(q('parse_yaml(@)', 'foo: 1\nbar: >\n  this is\n  one line'), { foo: 1, bar: 'this is one line' }, 'a block scalar ending the input has no line break');
  t.same(q('parse_yaml(@)', 'a: |\n  x\n  y\n'), { a: 'x\ny\n' }, 'clip keeps the line break the input has');
  t.same(q('parse_yaml(@)', 'a: |\n  x\nb: 2'), { a: 'x\n', b: 2 });
  t.throws(() => q('parse_yaml(@)', 'a: [1, 2'), 'a YAML error is an error');
  t.equal(q("base64_decode('aGVsbG8=')"), 'hello');
  t.match(err("base64_decode('aGVsbG8')"), 'illegal base64 data at input byte');
  t.equal(q("base64_encode('hello')"), 'aGVsbG8=');
  t.equal(q("sha256('abc')"), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  t.equal(q("md5('abc')"), '900150983cd24fb0d6963f7d28e17f72');
  t.equal(q("sha1('abc')"), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  t.equal(q("semver_compare('1.2.3', '>=1.0.0 <2.0.0')"), true);
  t.equal(q("semver_compare('2.1.0', '>=1.0.0 <2.0.0 || >2.0.5')"), true);
  t.equal(q("semver_compare('2.0.3', '>=1.0.0 <2.0.0 || >2.0.5')"), false);
  t.equal(q("semver_compare('1.10.0', '1.x')"), true);
  t.equal(q("semver_compare('1.0.0-rc.1', '<1.0.0')"), true);
  t.equal(q("semver_compare('1.2.3', '!1.2.3')"), false);
  t.equal(q("semver_compare('not-a-version', '<0.0.1')"), true, 'unparsable versions count as 0.0.0');
  t.match(q("random('[a-z]{6}[0-9]{2}')") as string, /^[a-z]{6}[0-9]{2}$/);
  t.match(q("random('(ab|cd)-x?')") as string, /^(ab|cd)-x?$/);
  t.equal(q("image_normalize('nginx')"), 'docker.io/library/nginx:latest');
  t.equal(q("image_normalize('ghcr.io/org/app:1.2')"), 'ghcr.io/org/app:1.2');
  t.equal(q("image_normalize('org/app@sha256:" + 'a'.repeat(64) + "')"), 'docker.io/org/app@sha256:' + 'a'.repeat(64));
  t.equal(q("is_external_url('https://example.com/x')"), true);
  t.equal(q("is_external_url('http://10.0.0.1/x')"), false);
  t.equal(q("is_external_url('http://svc.ns.svc.cluster.local')"), false);
  t.equal(q("is_external_url('not a url')"), false);
});

t.test('community built-ins that Kyverno keeps', async (t) => {
  t.equal(q('length(request.object.spec.containers)', pod), 2);
  t.same(q('request.object.metadata.labels | keys(@)', pod), ['app', 'app.kubernetes.io/name']);
  t.equal(q("contains(request.object.spec.containers[].name, 'a')", pod), true);
  t.same(q('request.object.spec.containers[].name | sort(@) | reverse(@)', pod), ['b', 'a']);
  t.equal(q("join(',', request.object.spec.containers[].name)", pod), 'a,b');
  t.equal(q('to_string(`1`)'), '1');
  t.same(q("map(&to_upper(@), `[\"a\",\"b\"]`)"), ['A', 'B'], 'custom functions inside expression references');
  t.equal(q("request.object.spec.containers[?resources.requests.memory != resources.limits.memory] | length(@)", pod), 1);
  t.same(q("request.object.spec.[containers, initContainers][].name", pod), ['a', 'b']);
});

t.test('Go formatting helpers', async (t) => {
  const { goSprintNumber, goSprint, goJsonMarshal } = await import('../../src/engine/jmespath/index.ts');
  const { goFormatFloat32 } = await import('../../src/engine/jmespath/gofmt.ts');
  t.equal(goSprintNumber(1), '1');
  t.equal(goSprintNumber(1.5), '1.5');
  t.equal(goSprintNumber(123456), '123456');
  t.equal(goSprintNumber(1e6), '1e+06');
  t.equal(goSprintNumber(1234567), '1.234567e+06');
  t.equal(goSprintNumber(0.0001), '0.0001');
  t.equal(goSprintNumber(0.00001), '1e-05');
  t.equal(goSprintNumber(-2.5), '-2.5');
  t.equal(goSprint(true), 'true');
  t.equal(goSprint(null), '<nil>');
  t.equal(goSprint(['a', 1]), '[a 1]');
  t.equal(goFormatFloat32(1.5), '1.5');
  t.equal(goFormatFloat32(123456789), '123456790');
  t.equal(goFormatFloat32(0.1), '0.1');
  t.equal(goJsonMarshal({ b: [1, 'x'], a: null }), '{"a":null,"b":[1,"x"]}');
  t.equal(goJsonMarshal(1e21), '1e+21');
  t.equal(goJsonMarshal(1e-7), '1e-7');
  t.equal(goJsonMarshal('a&b'), '"a\\u0026b"');
});

t.test('Go quantities and durations', async (t) => {
  const { parseGoQuantity, formatGoQuantity } = await import('../../src/engine/jmespath/goquantity.ts');
  const { parseGoDuration, formatGoDuration } = await import('../../src/engine/jmespath/goduration.ts');
  const canon = (s: string) => formatGoQuantity(parseGoQuantity(s)!);
  t.equal(canon('1024Mi'), '1Gi');
  t.equal(canon('1536Mi'), '1536Mi');
  t.equal(canon('1000'), '1k');
  t.equal(canon('1500'), '1500');
  t.equal(canon('0.5'), '500m');
  t.equal(canon('1e3'), '1e3');
  t.equal(canon('512'), '512');
  t.equal(canon('100Ki'), '100Ki');
  t.equal(canon('0'), '0');
  t.equal(canon('1.5Gi'), '1536Mi');
  t.equal(canon('0.1Ki'), '102400m', 'binary values below 1Ki switch to decimal');
  t.equal(parseGoQuantity('1h'), undefined);
  t.equal(parseGoQuantity('Mi'), undefined);
  t.equal(parseGoQuantity('1 Mi'), undefined);
  t.equal(formatGoDuration(parseGoDuration('1h30m')!), '1h30m0s');
  t.equal(formatGoDuration(parseGoDuration('1.5s')!), '1.5s');
  t.equal(formatGoDuration(parseGoDuration('1500ms')!), '1.5s');
  t.equal(formatGoDuration(parseGoDuration('300ms')!), '300ms');
  t.equal(formatGoDuration(parseGoDuration('2us')!), '2µs');
  t.equal(formatGoDuration(parseGoDuration('-90s')!), '-1m30s');
  t.equal(formatGoDuration(0n), '0s');
  t.equal(parseGoDuration('0'), 0n);
  t.equal(parseGoDuration('1'), undefined);
  t.equal(parseGoDuration(''), undefined);
  t.equal(parseGoDuration('1d'), undefined);
});

t.test('lazy context entries', async (t) => {
  const data: Record<string, JsonValue> = { request: { operation: 'CREATE' } };
  let calls = 0;
  Object.defineProperty(data, 'images', { enumerable: true, get: () => { calls++; return undefined; } });
  t.equal(err('images.containers', data), 'Unknown key "images" in path', 'a getter yielding nothing is a missing key');
  t.ok(calls > 0);
  t.equal(q("images.containers || 'none'", data), 'none');
});

t.test('Go regex syntax translation', async (t) => {
  t.equal(q("regex_match('^\\pL+$', 'héllo')"), true, 'one-letter Unicode class');
  t.equal(q("regex_match('^\\p{Lu}', 'Hello')"), true);
  t.equal(q("regex_match('(?s)a.b', 'a\nb')"), true, 'flag s');
  t.equal(q("regex_match('a.b', 'a\nb')"), false);
  t.equal(q("regex_match('\\Aab\\z', 'ab')"), true);
  t.equal(q("regex_match('\\Aab\\z', 'ab\n')"), false);
  t.equal(q("regex_match('^\\Q1.5\\E$', '1.5')"), true, 'quoted literal');
  t.equal(q("regex_match('^\\Q1.5\\E$', '105')"), false);
  t.equal(q("regex_match('[^[:alpha:]]', 'abc')"), false);
});
