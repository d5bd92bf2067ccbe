/**
 * Share of expected results the CEL API reproduces on the policy library's
 * `*-cel` suites (validate.cel ClusterPolicies); prints per-suite numbers, asserts the floors reached.
 */
import t from 'tap';
import { checkFolders, hasConformanceData } from './support/conformance-check.ts';

t.test('*-cel conformance suites', { skip: hasConformanceData ? false : 'conformance data not present' }, async (t) => {
  checkFolders(t, /-cel$/, 5);
});
