/**
 * Kyverno CLI `foreachValues` (Values files): per-element values of a rule's
 * foreach, set as variables when each element's context is built, as
 * Kyverno's CLI context loader does with the element's index. The values are
 * a list of maps, one per foreach block (newer Kyverno); a single map (older
 * Kyverno) serves every block. Each map names a variable and lists its value
 * per element index.
 */
import type { JsonValue } from './types.ts';
import { setVariable, type ContextData } from './variables.ts';

export type ForeachValues = ReadonlyArray<Readonly<Record<string, JsonValue>>>;

/** Foreach values by rule name (Values files give them per rule). */
export type RuleForeachValues = Readonly<Record<string, ForeachValues>>;

/**
 * The names a caller pins for one rule (their context entries are not loaded),
 * with that rule's foreach values.
 */
export interface CallerPins extends ReadonlySet<string> {
  readonly foreachValues?: ForeachValues;
}

/** The names the caller's variables pin, for every rule. */
export function variablePins(variables: Record<string, JsonValue> | undefined): ReadonlySet<string> | undefined {
  return variables ? new Set(Object.keys(variables).map((k) => k.split('.')[0]!)) : undefined;
}

/** A rule's values: under its name, or the name an autogen rule was made from (as Kyverno's CLI store looks them up). */
export function foreachValuesFor(values: RuleForeachValues, ruleName: string): ForeachValues | undefined {
  const own = values[ruleName];
  if (own && own.length > 0) return own;
  const base = ruleName.startsWith('autogen-cronjob-') ? ruleName.slice('autogen-cronjob-'.length)
    : ruleName.startsWith('autogen-') ? ruleName.slice('autogen-'.length) : undefined;
  const inherited = base !== undefined ? values[base] : undefined;
  return inherited && inherited.length > 0 ? inherited : undefined;
}

/** One rule's pins: the variables' names and its foreach values' names, with the values. */
export function rulePins(base: ReadonlySet<string> | undefined, values: ForeachValues): CallerPins {
  const names = new Set(base);
  for (const map of values) for (const k of Object.keys(map)) names.add(k.split('.')[0]!);
  return Object.assign(names, { foreachValues: values });
}

/** Sets the values of foreach block `block` for element `index` into `data` (a context built for that element). */
export function applyForeachValues(data: ContextData, values: ForeachValues, block: number, index: number): void {
  const map = values.length === 1 ? values[0] : values[block];
  if (!map) return;
  for (const key of Object.keys(map)) {
    const list = map[key];
    if (Array.isArray(list) && index < list.length) setVariable(data, key, list[index]!);
  }
}
