import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  aggregate, declaredExpectations, rate, renderMarkdown, runConformance, runConformanceCommand, suiteLocation, topCauses, type SuiteResult,
} from '../../src/cli/conformance.ts';
import type { ResultRow } from '../../src/cli/test/match.ts';
import { capture } from './support/fake-deps.ts';

function row(over: Partial<ResultRow>): ResultRow {
  return {
    id: 1, policy: 'p', rule: 'r', resource: 'Pod/a', expected: 'pass', actual: 'pass', result: 'Pass', reason: 'Ok',
    message: '', count: 'pass', excluded: false, expectation: 0, ...over,
  };
}

const suites: SuiteResult[] = [
  { suite: 'best-practices/a', folder: 'best-practices', declared: 2, rows: [row({}), row({ result: 'Fail', reason: 'Want pass, got fail', actual: 'fail', count: 'fail', message: 'msg | with pipe' })], warnings: [], durationMs: 1 },
  { suite: 'best-practices/b', folder: 'best-practices', declared: 3, rows: [], error: 'failed to load resources', warnings: ['w'], durationMs: 1 },
  { suite: 'pod-security/c', folder: 'pod-security', declared: 1, rows: [row({ expected: 'fail', result: 'Pass', reason: 'Excluded', count: 'skip', excluded: true, actual: undefined })], warnings: [], durationMs: 1 },
];

t.test('suiteLocation: the policy folder holding .kyverno-test is the suite; its top folder groups it', async (t) => {
  t.same(suiteLocation('/lib', '/lib/pod-security/baseline/x/.kyverno-test/kyverno-test.yaml'), { suite: 'pod-security/baseline/x', folder: 'pod-security' });
  t.same(suiteLocation('/lib', '/lib/other/y/kyverno-test.yaml'), { suite: 'other/y', folder: 'other' });
  t.same(suiteLocation('/lib/other', '/lib/other/y/.kyverno-test/kyverno-test.yaml'), { suite: 'y', folder: '.' });
});

t.test('aggregate: errored suites count their declared expectations as unmatched', async (t) => {
  const { folders, total } = aggregate(suites);
  t.same(folders, [
    { folder: 'best-practices', suites: 2, suiteErrors: 1, expected: 5, matched: 1, excludedPasses: 0 },
    { folder: 'pod-security', suites: 1, suiteErrors: 0, expected: 1, matched: 1, excludedPasses: 1 },
  ]);
  t.same(total, { folder: 'Total', suites: 3, suiteErrors: 1, expected: 6, matched: 2, excludedPasses: 1 });
  t.equal(rate(1, 3), '33.3%');
  t.equal(rate(0, 0), '-');
});

t.test('renderMarkdown: per-folder table, suite errors, every mismatch with expected/got/reason', async (t) => {
  const md = renderMarkdown('/lib', suites, new Date('2026-01-01T00:00:00Z'));
  t.match(md, /# Conformance report/);
  t.match(md, /3 suites, 6 expected results, 2 matched \(33\.3%\)/);
  t.match(md, /\| best-practices \| 2 \| 1 \| 5 \| 1 \| 20\.0% \| 0 \|/);
  t.match(md, /\| \*\*Total\*\* \| \*\*3\*\* \|/);
  t.match(md, /## Suite errors \(1\)\n\n\| Suite \| Error \|\n\|---\|---\|\n\| best-practices\/b \| failed to load resources \|/);
  t.match(md, /## Most frequent mismatch causes\n\n\| Count \| Suites \| Reason \| Message \|\n\|---\|---\|---\|---\|\n\| 1 \| 1 \| Want pass, got fail \| msg \\\| with pipe \|/);
  t.match(md, /## Mismatching expectations \(1\)/);
  t.match(md, /\| best-practices\/a \| p \| r \| Pod\/a \| pass \| fail \| Want pass, got fail \| msg \\\| with pipe \|/);
  t.notMatch(md, /pod-security\/c \| p/, 'an excluded pass is not a mismatch');
  t.match(md, /- best-practices\/b: w/);
});

t.test('topCauses groups mismatches by reason and message with quoted values masked', async (t) => {
  const m = (suite: string, message: string, reason = 'Want fail, got error') => ({ suite, r: row({ result: 'Fail', count: 'fail', reason, message }) });
  const causes = topCauses([
    m('a', "rule 'x' failed: \"v1\" unsupported"),
    m('b', "rule 'y' failed: \"v2\" unsupported"),
    m('b', "rule 'z' failed: \"v3\" unsupported"),
    m('c', 'other'),
    { suite: 'd', r: row({ policy: 'pol-a', result: 'Fail', count: 'fail', reason: 'Not found', message: 'policy pol-a is a ValidatingPolicy' }) },
    { suite: 'e', r: row({ policy: 'pol-b', result: 'Fail', count: 'fail', reason: 'Not found', message: 'policy pol-b is a ValidatingPolicy' }) },
    m('c', 'anything', 'Resource diff'),
  ]);
  t.same(causes.map((c) => [c.count, c.suites.size, c.reason, c.message]), [
    [3, 2, 'Want fail, got error', 'rule … failed: … unsupported'],
    [2, 2, 'Not found', 'policy <policy> is a ValidatingPolicy'],
    [1, 1, 'Want fail, got error', 'other'],
    [1, 1, 'Resource diff', '(patched/generated resource differs)'],
  ]);
});

t.test('declaredExpectations: one per expectation and named resource; unreadable file: 0', async (t) => {
  const dir = t.testdir({
    'kyverno-test.yaml': 'results:\n- {policy: p, rule: r, resources: [a, b], result: pass}\n- {policy: p, rule: r, result: pass}\n',
  });
  t.equal(await declaredExpectations(join(dir, 'kyverno-test.yaml')), 3);
  t.equal(await declaredExpectations(join(dir, 'missing.yaml')), 0);
});

const fakeWorker = new URL('./support/fake-conformance-worker.ts', import.meta.url);
const test = 'results: [{policy: p, rule: r, resources: [good, bad], result: pass}]\n';

t.test('runConformance: a hanging suite times out, a crashing one errors, the rest still run', async (t) => {
  const dir = t.testdir({
    'best-practices': { ok: { '.kyverno-test': { 'kyverno-test.yaml': test } }, hang: { '.kyverno-test': { 'kyverno-test.yaml': test } } },
    other: { crash: { 'kyverno-test.yaml': test }, ok2: { 'kyverno-test.yaml': test } },
  });
  const progress: string[] = [];
  const results = await runConformance(dir, {
    timeoutMs: 500,
    jobs: 2,
    workerUrl: fakeWorker,
    // The fake worker needs no loader: Node strips its types natively (and starts fast).
    workerExecArgv: [],
    onSuite: (s, done, total) => progress.push(`${done}/${total} ${s.suite}`),
  });
  t.same(results.map((r) => [r.suite, r.error ?? 'ok', r.rows.length]), [
    ['best-practices/hang', 'timed out after 0.5s', 0],
    ['best-practices/ok', 'ok', 2],
    ['other/crash', 'suite crashed: suite blew up', 0],
    ['other/ok2', 'ok', 2],
  ]);
  t.equal(results[0]!.declared, 2);
  t.equal(progress.length, 4);
});

t.test('runConformanceCommand writes the report and exits 0; argument errors exit 2', async (t) => {
  const dir = t.testdir({ lib: { 'pod-security': { x: { '.kyverno-test': { 'kyverno-test.yaml': test } } }, other: { crash: { 'kyverno-test.yaml': test } } } });
  const out = capture();
  const file = join(dir, 'REPORT.md');
  const code = await runConformanceCommand([join(dir, 'lib'), '--out', file, '--timeout', '30'], out, { workerUrl: fakeWorker, workerExecArgv: [] });
  t.equal(code, 0);
  t.match(out.text(), /\[1\/2\] other\/crash: ERROR suite crashed: suite blew up/);
  t.match(out.text(), /\[2\/2\] pod-security\/x: 1\/2/);
  t.match(out.text(), /│ pod-security │ 1 +│ 0 +│ 2 +│ 1 +│ 50\.0% +│ 0 +│/);
  t.match(out.text(), /│ other +│ 1 +│ 1 +│ 2 +│ 0 +│ 0\.0% +│ 0 +│/);
  const md = await readFile(file, 'utf8');
  t.match(md, /## Suite errors \(1\)/);
  t.match(md, /\| pod-security\/x \| p \| r \| Pod\/bad \| pass \| fail \| Want pass, got fail \| label required \|/);
  t.equal(await runConformanceCommand([dir], capture()), 2);
  t.equal(await runConformanceCommand([dir, '--out', file, '--jobs', '0'], capture()), 2);
});
