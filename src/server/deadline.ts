/**
 * Request budget: every review is answered within a deadline under the
 * apiserver's webhook timeout. The engine's promise is raced against its
 * deadline; a late result is dropped (the answer has already gone out).
 */

export class DeadlineExceededError extends Error {
  readonly budgetMs: number;
  constructor(budgetMs: number) {
    super(`policy evaluation did not finish within ${budgetMs}ms`);
    this.name = 'DeadlineExceededError';
    this.budgetMs = budgetMs;
  }
}

interface Pending {
  deadline: number;
  expire: () => void;
}

// One shared sweeper instead of a timer per request: arming and clearing a
// timer on every review costs more than the whole envelope check. Deadlines
// are honoured to within SWEEP_MS; the sweeper only runs while reviews are pending.
const SWEEP_MS = 10;
const pending = new Set<Pending>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const p of pending) {
    if (p.deadline <= now) {
      pending.delete(p);
      p.expire();
    }
  }
  if (pending.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

export function withDeadline<T>(work: Promise<T>, budgetMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { deadline: performance.now() + budgetMs, expire: () => reject(new DeadlineExceededError(budgetMs)) };
    pending.add(entry);
    sweeper ??= setInterval(sweep, Math.min(SWEEP_MS, Math.max(1, budgetMs)));
    // A late result (or rejection) after expiry is dropped: the answer has gone out.
    work.then(
      (value) => { pending.delete(entry); resolve(value); },
      (err: unknown) => { pending.delete(entry); reject(err); },
    );
  });
}

/** Default budget: well under the apiserver's default 10 s webhook timeout. */
export const DEFAULT_BUDGET_MS = 8000;

/**
 * The effective budget: the configured one, lowered to 90% of the smallest
 * `webhookTimeoutSeconds` any loaded policy asks for.
 */
export function effectiveBudget(configuredMs: number, policyTimeoutsSeconds: readonly (number | undefined)[]): number {
  let budget = configuredMs;
  for (const s of policyTimeoutsSeconds) {
    if (typeof s === 'number' && s > 0) budget = Math.min(budget, Math.floor(s * 900));
  }
  return Math.max(1, budget);
}
