/** mutate handler (wired to src/engine/mutate once available). */
import type { JsonObject } from '../types.ts';
import type { RuleHandler } from './types.ts';

export function compileMutateHandler(ruleName: string, mutate: JsonObject): RuleHandler {
  void mutate;
  return () => ({ status: 'error', message: `rule ${ruleName}: mutation not wired yet` });
}
