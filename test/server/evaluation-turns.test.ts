import t from 'tap';
import { evaluateInTurn } from '../../src/server/evaluation-turns.ts';
import type { Decider } from '../../src/server/policy-set.ts';
import type { AdmissionInput } from '../../src/engine/types.ts';
import type { EvaluationResult } from '../../src/engine/engine.ts';

const input = (name: string): AdmissionInput => ({
  operation: 'CREATE', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name } }, oldObject: null,
  kind: { group: '', version: 'v1', kind: 'Pod' }, userInfo: {}, roles: [], clusterRoles: [], dryRun: false, name,
});
const resultFor = (name: string): EvaluationResult => ({ results: [], patchedResource: { kind: name }, patches: [] });

t.test('reviews queued in one poll are evaluated back to back, before any caller resumes', async (t) => {
  const events: string[] = [];
  const decider: Decider = {
    evaluate(i) {
      events.push(`evaluate ${i.name}`);
      return Promise.resolve(resultFor(i.name!));
    },
  };
  const callers = ['a', 'b', 'c'].map((name) => evaluateInTurn(decider, input(name), { mode: 'validate' }).then((r) => {
    events.push(`resume ${name}`);
    return r.patchedResource;
  }));
  t.same(events, [], 'nothing is evaluated inside the poll that queued it');
  t.same(await Promise.all(callers), [{ kind: 'a' }, { kind: 'b' }, { kind: 'c' }], 'each caller gets its own result');
  t.same(events, ['evaluate a', 'evaluate b', 'evaluate c', 'resume a', 'resume b', 'resume c']);
});

t.test('a throwing or rejecting evaluation fails its own review only', async (t) => {
  const decider: Decider = {
    evaluate(i, o) {
      if (i.name === 'throws') throw new Error('sync failure');
      if (i.name === 'rejects') return Promise.reject(new Error('async failure'));
      return Promise.resolve(resultFor(`${i.name}/${o.mode}`));
    },
  };
  const [ok, thrown, rejected, after] = await Promise.allSettled([
    evaluateInTurn(decider, input('ok'), { mode: 'mutate' }),
    evaluateInTurn(decider, input('throws'), { mode: 'mutate' }),
    evaluateInTurn(decider, input('rejects'), { mode: 'mutate' }),
    evaluateInTurn(decider, input('after'), { mode: 'validate' }),
  ]);
  t.match(ok, { status: 'fulfilled', value: { patchedResource: { kind: 'ok/mutate' } } });
  t.match(thrown, { status: 'rejected', reason: { message: 'sync failure' } });
  t.match(rejected, { status: 'rejected', reason: { message: 'async failure' } });
  t.match(after, { status: 'fulfilled', value: { patchedResource: { kind: 'after/validate' } } }, 'the turn went on after the failures');
});

t.test('a review queued while a turn runs waits for the next turn', async (t) => {
  const order: string[] = [];
  let second: Promise<EvaluationResult> | undefined;
  const decider: Decider = {
    evaluate(i) {
      order.push(i.name!);
      if (i.name === 'first') second = evaluateInTurn(decider, input('second'), { mode: 'validate' });
      return Promise.resolve(resultFor(i.name!));
    },
  };
  await evaluateInTurn(decider, input('first'), { mode: 'validate' });
  t.same(order, ['first'], 'not run inside the running turn');
  await second;
  t.same(order, ['first', 'second']);
});
