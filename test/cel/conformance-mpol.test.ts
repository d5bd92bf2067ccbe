/**
 * Share of expected results the CEL API reproduces on the policy library's
 * `*-mpol` suites (MutatingPolicies); prints per-suite numbers, asserts the floors reached.
 */
import t from 'tap';
import { checkFolders, hasConformanceData } from './support/conformance-check.ts';

t.test('*-mpol conformance suites', { skip: hasConformanceData ? false : 'conformance data not present' }, async (t) => {
  checkFolders(t, /-mpol$/, 4);
});
