/**
 * Worker thread for `portcullis conformance`: runs one Test file per message
 * so the parent can stop a suite that takes too long (terminate) without
 * losing the whole run. Posts `{ ready: true }` once loaded, then answers
 * `{ id, path }` with `{ id, report }` or `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { runTestFile } from './run.ts';

if (parentPort) {
  const port = parentPort;
  port.on('message', async (msg: { id: number; path: string }) => {
    try {
      const report = await runTestFile(msg.path);
      port.postMessage({ id: msg.id, report });
    } catch (e) {
      port.postMessage({ id: msg.id, error: (e as Error)?.stack ?? String(e) });
    }
  });
  // Imports are loaded: the parent starts suite time limits from here.
  port.postMessage({ ready: true });
}
