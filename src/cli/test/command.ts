/**
 * `portcullis test PATH…` — Kyverno's `kyverno test`: find Test files, run
 * them, print a table per Test and the summary. Exit code 1 when any
 * expectation failed or a Test could not be loaded/run; 0 otherwise.
 */
import { parseArgs } from 'node:util';
import type { CliDeps } from './deps.ts';
import { DEFAULT_TEST_FILE, discoverTestFiles } from './discover.ts';
import { countRows, rowJson, rowsTable, summaryLine, type Counts } from './output.ts';
import { runTestFile, type TestCaseReport } from './run.ts';
import { parseSelector, type TestCaseSelector } from './selector.ts';

export interface Output {
  write(chunk: string): unknown;
}

export const TEST_USAGE = `Usage: portcullis test PATH... [flags]

Runs the Kyverno CLI test files (kyverno-test.yaml) found below each PATH.

Flags:
  -f, --file-name NAME            test file name to look for (default ${DEFAULT_TEST_FILE})
  -t, --test-case-selector SEL    "policy=<p>, rule=<r>, resource=<name>" (wildcards * and ?)
      --detailed-results          add the rule message to the table
      --fail-only                 print only failing rows
  -o, --output-format FORMAT      json or markdown (default: table)
      --json                      same as --output-format json
      --require-tests             fail when no test file is found
      --remove-color              accepted for Kyverno compatibility (output is never colored)
  -h, --help                      show this help
`;

interface TestFlags {
  paths: string[];
  fileName: string;
  selector?: TestCaseSelector;
  detailed: boolean;
  failOnly: boolean;
  format: 'table' | 'json' | 'markdown';
  requireTests: boolean;
}

function parseFlags(argv: readonly string[]): TestFlags | { error: string } | { help: true } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'file-name': { type: 'string', short: 'f' },
        'test-case-selector': { type: 'string', short: 't' },
        'detailed-results': { type: 'boolean' },
        'fail-only': { type: 'boolean' },
        'output-format': { type: 'string', short: 'o' },
        json: { type: 'boolean' },
        'require-tests': { type: 'boolean' },
        'remove-color': { type: 'boolean' },
        registry: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  let format: TestFlags['format'] = v.json ? 'json' : 'table';
  if (v['output-format'] !== undefined) {
    if (v['output-format'] !== 'json' && v['output-format'] !== 'markdown') return { error: 'invalid format, expected (json, markdown)' };
    format = v['output-format'];
  }
  let selector: TestCaseSelector | undefined;
  if (v['test-case-selector'] !== undefined) {
    const s = parseSelector(v['test-case-selector']);
    if (s.errors.length > 0) return { error: s.errors.join('\n') };
    selector = s.selector;
  }
  if (parsed.positionals.length === 0) return { error: 'a directory is required' };
  return {
    paths: parsed.positionals,
    fileName: v['file-name'] ?? DEFAULT_TEST_FILE,
    selector,
    detailed: v['detailed-results'] === true,
    failOnly: v['fail-only'] === true,
    format,
    requireTests: v['require-tests'] === true,
  };
}

function markdownTable(rows: TestCaseReport['rows'], detailed: boolean): string {
  const headers = ['ID', 'POLICY', 'RULE', 'RESOURCE', 'RESULT', 'REASON'];
  if (detailed) headers.push('MESSAGE');
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map(() => '----|').join('')}`];
  for (const r of rows) {
    const c = [String(r.id), r.policy, r.rule, r.resource, r.result, r.reason];
    if (detailed) c.push(r.message);
    lines.push(`| ${c.map(esc).join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

/** Run the test command. Returns the process exit code. */
export async function runTestCommand(argv: readonly string[], out: Output = process.stdout, deps?: CliDeps): Promise<number> {
  const flags = parseFlags(argv);
  if ('help' in flags) {
    out.write(TEST_USAGE);
    return 0;
  }
  if ('error' in flags) {
    out.write(`Error: ${flags.error}\n\n${TEST_USAGE}`);
    return 1;
  }
  const { files, errors } = await discoverTestFiles(flags.paths, flags.fileName);
  const json = flags.format === 'json';
  const counts: Counts = { pass: 0, skip: 0, fail: 0 };
  const reports: TestCaseReport[] = [];
  const failedRows: TestCaseReport['rows'] = [];

  if (errors.length > 0 && !json) {
    out.write('\nTest errors:\n');
    for (const e of errors) out.write(`  Path: ${e.path}\n    Error: ${e.error}\n`);
  }
  if (files.length === 0 && !json) out.write('\nNo test yamls available\n');

  for (const file of files) {
    const report = await runTestFile(file, { selector: flags.selector, deps });
    reports.push(report);
    countRows(report.rows, counts);
    for (const r of report.rows) if (r.count === 'fail') failedRows.push(r);
    if (json) continue;
    for (const line of report.log) out.write(line + '\n');
    for (const w of report.warnings) out.write(`  warning: ${w}\n`);
    if (report.error !== undefined) {
      out.write(`  Error: failed to run test (${report.error})\n`);
      continue;
    }
    // --fail-only: no per-Test tables, only the aggregated failures at the end (as kyverno test).
    if (flags.failOnly) continue;
    out.write('\n');
    out.write(flags.format === 'markdown' ? markdownTable(report.rows, flags.detailed) : rowsTable(report.rows, flags.detailed));
    out.write('\n');
  }

  const testErrors = errors.length + reports.filter((r) => r.error !== undefined).length;
  const noTests = files.length === 0 && flags.requireTests;
  const exitCode = counts.fail > 0 || testErrors > 0 || noTests ? 1 : 0;

  if (json) {
    out.write(
      JSON.stringify(
        {
          summary: { passed: counts.pass + counts.skip, failed: counts.fail, skipped: counts.skip, testErrors },
          errors,
          tests: reports.map((r) => ({
            path: r.path,
            name: r.name,
            error: r.error ?? null,
            warnings: r.warnings,
            results: r.rows.map((row) => rowJson(row, flags.detailed)),
          })),
        },
        null,
        2,
      ) + '\n',
    );
    return exitCode;
  }

  out.write(`\n${summaryLine(counts, flags.failOnly)}\n\n`);
  if (flags.failOnly && failedRows.length > 0) {
    out.write('Aggregated Failed Test Cases : \n');
    out.write(rowsTable(failedRows.map((r, i) => ({ ...r, id: i + 1 })), flags.detailed));
  }
  if (testErrors > 0) out.write(`Error: ${testErrors} test ${testErrors === 1 ? 'file' : 'files'} could not be run\n`);
  if (noTests) out.write('Error: no tests found\n');
  return exitCode;
}
