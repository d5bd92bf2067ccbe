/** Narrowing helpers for policy documents read as plain JSON, shared by the CEL policy kinds. */
import type { JsonObject, JsonValue } from '../engine/types.ts';

/** The value as a JSON object, or undefined when it is not one. */
export const obj = (v: JsonValue | undefined): JsonObject | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? v : undefined);

export const isObj = (v: JsonValue | undefined): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);

/** The value as a string, or '' when it is not one. */
export const str = (v: JsonValue | undefined): string => (typeof v === 'string' ? v : '');
