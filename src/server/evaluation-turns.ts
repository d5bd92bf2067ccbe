/**
 * Policy evaluations run in turns: a review does not evaluate the moment its
 * body is parsed, between other sockets' TLS and HTTP work, but joins a queue
 * that is evaluated back to back once the event loop has read what was ready
 * (setImmediate: the check phase, straight after this poll). The engine's code
 * and data then stay in the CPU caches across a whole turn; under load this
 * cuts the server's CPU per review by about a quarter (BENCHMARKS.md). A lone
 * review waits for nothing but the end of the current poll phase.
 */
import type { AdmissionInput } from '../engine/types.ts';
import type { EvaluateOptions, EvaluationResult } from '../engine/engine.ts';
import type { Decider } from './policy-set.ts';

interface Waiting {
  decider: Decider;
  input: AdmissionInput;
  options: EvaluateOptions;
  resolve: (result: Promise<EvaluationResult>) => void;
}

let queue: Waiting[] = [];

/** `decider.evaluate(input, options)`, run in the next evaluation turn. */
export function evaluateInTurn(decider: Decider, input: AdmissionInput, options: EvaluateOptions): Promise<EvaluationResult> {
  return new Promise<EvaluationResult>((resolve) => {
    if (queue.push({ decider, input, options, resolve }) === 1) setImmediate(runTurn);
  });
}

function runTurn(): void {
  const turn = queue;
  queue = [];
  // Evaluate all first (each runs synchronously until it must wait), then release the callers.
  const results = new Array<Promise<EvaluationResult>>(turn.length);
  for (let i = 0; i < turn.length; i++) {
    const w = turn[i]!;
    try {
      results[i] = w.decider.evaluate(w.input, w.options);
    } catch (err) {
      results[i] = Promise.reject(err);
    }
  }
  for (let i = 0; i < turn.length; i++) turn[i]!.resolve(results[i]!);
}
