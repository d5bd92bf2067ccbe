/** `portcullis test`: public surface for the CLI dispatcher and the conformance report. */
export { runTestCommand, TEST_USAGE, type Output } from './command.ts';
export { runTestFile, runTestSpec, type TestCaseReport } from './run.ts';
export { discoverTestFiles, DEFAULT_TEST_FILE } from './discover.ts';
export type { ResultRow } from './match.ts';
