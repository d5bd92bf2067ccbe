import t from 'tap';
import { DeadlineExceededError, effectiveBudget, withDeadline } from '../../src/server/deadline.ts';

t.test('a result within the budget passes through; a throw passes through', async (t) => {
  t.equal(await withDeadline(Promise.resolve(42), 1000), 42);
  await t.rejects(withDeadline(Promise.reject(new Error('boom')), 1000), /boom/);
});

t.test('a hung evaluation is cut at the deadline', async (t) => {
  const err = await withDeadline(new Promise(() => {}), 20).catch((e: unknown) => e);
  t.ok(err instanceof DeadlineExceededError);
  t.equal((err as DeadlineExceededError).budgetMs, 20);
  t.match((err as Error).message, 'did not finish within 20ms');
});

t.test('a late rejection after expiry is swallowed (no unhandled rejection)', async (t) => {
  let fail!: (e: Error) => void;
  const late = new Promise<never>((_, reject) => (fail = reject));
  await t.rejects(withDeadline(late, 10), DeadlineExceededError);
  fail(new Error('too late'));
  await new Promise((r) => setTimeout(r, 5));
  t.pass('no unhandled rejection');
});

t.test('many concurrent reviews each get their own deadline', async (t) => {
  const results = await Promise.allSettled([
    withDeadline(new Promise(() => {}), 15),
    withDeadline(new Promise((r) => setTimeout(() => r('ok'), 1)), 5000),
    withDeadline(new Promise(() => {}), 25),
  ]);
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'rejected']);
});

t.test('reviews finishing out of order while others expire: each gets its own outcome', async (t) => {
  const finish: Array<(v: string) => void> = [];
  const budgets = [5000, 15, 5000, 5000, 20, 5000, 10, 5000];
  const settled = Promise.allSettled(budgets.map((ms, i) => withDeadline(new Promise<string>((r) => { finish[i] = r; }), ms)));
  finish[3]!('d'); // from the middle
  finish[0]!('a'); // the head
  finish[7]!('h'); // the tail
  await new Promise((r) => setTimeout(r, 40)); // 15, 20 and 10 ms budgets expire, the others are still pending
  finish[2]!('c');
  finish[5]!('f');
  finish[1]!('too late');
  const outcomes = (await settled).map((r) => (r.status === 'fulfilled' ? r.value : 'expired'));
  t.same(outcomes, ['a', 'expired', 'c', 'd', 'expired', 'f', 'expired', 'h']);
  // The list is empty again: a new review is still timed.
  await t.rejects(withDeadline(new Promise(() => {}), 5), DeadlineExceededError);
});

t.test('effective budget: policy webhookTimeoutSeconds lowers it to 90%', async (t) => {
  t.equal(effectiveBudget(8000, []), 8000);
  t.equal(effectiveBudget(8000, [undefined, 5]), 4500);
  t.equal(effectiveBudget(3000, [30]), 3000);
  t.equal(effectiveBudget(8000, [0, -1]), 8000, 'non-positive values ignored');
});
