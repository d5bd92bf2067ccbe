/**
 * Share of expected results the CEL API reproduces on the policy library's
 * `*-vpol` suites (ValidatingPolicies); prints per-suite numbers, asserts the floors reached.
 */
import t from 'tap';
import { checkFolders, hasConformanceData } from './support/conformance-check.ts';

t.test('*-vpol conformance suites', { skip: hasConformanceData ? false : 'conformance data not present' }, async (t) => {
  checkFolders(t, /-vpol$/, 3);
});
