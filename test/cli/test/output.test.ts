import t from 'tap';
import type { ResultRow } from '../../../src/cli/test/match.ts';
import { countRows, renderTable, rowJson, rowsTable, summaryLine } from '../../../src/cli/test/output.ts';

const row = (over: Partial<ResultRow>): ResultRow => ({
  id: 1, policy: 'p', rule: 'r', resource: 'Pod/a', expected: 'pass', actual: 'pass', result: 'Pass', reason: 'Ok',
  message: 'line one\n  line two', count: 'pass', excluded: false, expectation: 0, ...over,
});

t.test('renderTable: Kyverno box style, padded columns, multi-line cells flattened', async (t) => {
  t.equal(renderTable(['ID', 'NAME'], [['1', 'a\n b'], ['10', 'c']]), [
    '│────│──────│',
    '│ ID │ NAME │',
    '│────│──────│',
    '│ 1  │ a b  │',
    '│ 10 │ c    │',
    '│────│──────│',
    '',
  ].join('\n'));
});

t.test('rowsTable adds MESSAGE only with detailed results', async (t) => {
  t.notMatch(rowsTable([row({})], false), /MESSAGE/);
  t.match(rowsTable([row({})], true), /│ MESSAGE +│[\s\S]*line one line two/);
});

t.test('counts and summary lines (skips count as passed)', async (t) => {
  const c = countRows([row({}), row({ count: 'skip' }), row({ count: 'fail' })]);
  t.same(c, { pass: 1, skip: 1, fail: 1 });
  t.equal(summaryLine(c, false), 'Test Summary: 2 tests passed and 1 tests failed');
  t.equal(summaryLine(c, true), 'Test Summary: 1 out of 3 tests failed');
});

t.test('rowJson', async (t) => {
  t.same(rowJson(row({ actual: undefined }), false), { ID: 1, POLICY: 'p', RULE: 'r', RESOURCE: 'Pod/a', RESULT: 'Pass', REASON: 'Ok', expected: 'pass', actual: null, excluded: false });
  t.equal(rowJson(row({}), true).MESSAGE, 'line one\n  line two');
});
