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
 * The names a caller pins (their context entries are not loaded), with the
 * foreach values they come with.
 */
export interface CallerPins extends ReadonlySet<string> {
  readonly foreachValues?: RuleForeachValues;
}

export function pinsFor(variables: Record<string, JsonValue> | undefined, foreachValues: RuleForeachValues | undefined): CallerPins | undefined {
  if (!variables && !foreachValues) return undefined;
  const names = new Set<string>();
  for (const k of Object.keys(variables ?? {})) names.add(k.split('.')[0]!);
  let any = false;
  for (const rule of Object.values(foreachValues ?? {})) {
    for (const map of rule) for (const k of Object.keys(map)) { names.add(k.split('.')[0]!); any = true; }
  }
  return any ? Object.assign(names, { foreachValues: foreachValues! }) : names;
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
