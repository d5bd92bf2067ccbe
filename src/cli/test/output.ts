/**
 * `kyverno test` output: one table per Test (ID, POLICY, RULE, RESOURCE,
 * RESULT, REASON, and MESSAGE with --detailed-results), the summary line, and
 * a machine-readable JSON document.
 */
import type { ResultRow } from './match.ts';

export interface Counts {
  pass: number;
  skip: number;
  fail: number;
}

export function countRows(rows: readonly ResultRow[], into: Counts = { pass: 0, skip: 0, fail: 0 }): Counts {
  for (const r of rows) into[r.count]++;
  return into;
}

/** Box-drawing table in the style of the Kyverno CLI. Cells are single-line. */
export function renderTable(headers: readonly string[], cells: readonly (readonly string[])[]): string {
  const clean = cells.map((row) => row.map((c) => c.replace(/\s*\n\s*/g, ' ')));
  const widths = headers.map((h, i) => Math.max(h.length, ...clean.map((r) => (r[i] ?? '').length)));
  const sep = '│' + widths.map((w) => '─'.repeat(w + 2)).join('│') + '│';
  const line = (r: readonly string[]) => '│' + widths.map((w, i) => ` ${(r[i] ?? '').padEnd(w)} `).join('│') + '│';
  const out = [sep, line(headers), sep, ...clean.map(line), sep];
  return out.join('\n') + '\n';
}

export function rowsTable(rows: readonly ResultRow[], detailed: boolean): string {
  const headers = ['ID', 'POLICY', 'RULE', 'RESOURCE', 'RESULT', 'REASON'];
  if (detailed) headers.push('MESSAGE');
  const cells = rows.map((r) => {
    const c = [String(r.id), r.policy, r.rule, r.resource, r.result, r.reason];
    if (detailed) c.push(r.message);
    return c;
  });
  return renderTable(headers, cells);
}

export function summaryLine(c: Counts, failOnly: boolean): string {
  if (failOnly) return `Test Summary: ${c.fail} out of ${c.pass + c.skip + c.fail} tests failed`;
  return `Test Summary: ${c.pass + c.skip} tests passed and ${c.fail} tests failed`;
}

/** JSON form of one row: Kyverno's upper-case keys plus the details tools want. */
export function rowJson(r: ResultRow, detailed: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {
    ID: r.id,
    POLICY: r.policy,
    RULE: r.rule,
    RESOURCE: r.resource,
    RESULT: r.result,
    REASON: r.reason,
    expected: r.expected,
    actual: r.actual ?? null,
    excluded: r.excluded,
  };
  if (detailed) o.MESSAGE = r.message;
  return o;
}
