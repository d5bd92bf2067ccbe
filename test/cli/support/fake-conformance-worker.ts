/**
 * Stand-in for src/cli/test/conformance-worker.ts: answers from the suite path so
 * the parent's timeout and crash handling can be tested.
 * - `.../hang/...`  never answers (busy loop)
 * - `.../crash/...` throws an uncaught error
 * - otherwise: one passing and one failing row
 */
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (msg: { id: number; path: string }) => {
  if (msg.path.includes('/hang/')) {
    for (;;) {
      // pathological suite
    }
  }
  if (msg.path.includes('/crash/')) throw new Error('suite blew up');
  const row = (id: number, ok: boolean) => ({
    id,
    policy: 'p',
    rule: 'r',
    resource: `Pod/${ok ? 'good' : 'bad'}`,
    expected: 'pass',
    actual: ok ? 'pass' : 'fail',
    result: ok ? 'Pass' : 'Fail',
    reason: ok ? 'Ok' : 'Want pass, got fail',
    message: ok ? 'fine' : 'label required',
    count: ok ? 'pass' : 'fail',
    excluded: false,
    expectation: id - 1,
  });
  parentPort!.postMessage({ id: msg.id, report: { path: msg.path, name: 't', rows: [row(1, true), row(2, false)], warnings: [], log: [], policyCount: 1, resourceCount: 2 } });
});

parentPort?.postMessage({ ready: true });
