/**
 * The CEL specification's conformance cases (from @bufbuild/cel-spec, the
 * sections that need no protobuf test messages): every case the plain
 * @bufbuild/cel evaluator passes must still pass in Portcullis' environment
 * (optional-syntax rewrite, struct-literal rewrite, library overloads, static
 * name checks), and the environment gains the optional-types cases.
 */
import t from 'tap';
import { runSpecSuite } from './support/spec-suite.ts';

t.test('CEL spec conformance: no regression against the base evaluator', async (t) => {
  const s = runSpecSuite();
  t.comment(`cases ${s.total}: base evaluator ${s.base}, Portcullis environment ${s.ours}`);
  t.ok(s.total > 1000, 'the suite was loaded');
  t.same(s.regressions, [], 'no case regresses');
  t.ok(s.ours >= s.base + 30, 'optional types add passing cases');
  t.ok(s.ours / s.total >= 0.93, `pass rate ${(s.ours / s.total).toFixed(3)}`);
});
