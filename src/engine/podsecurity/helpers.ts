/**
 * Small helpers shared by the checks: Go-nil-aware JSON access, the container
 * visitor (init, regular, ephemeral — upstream order) and the text helpers
 * upstream uses to build ForbiddenDetail.
 */
import type { BadValue, FieldError, JsonObj, PodView } from './types.ts';

export function asObj(v: unknown): JsonObj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObj) : undefined;
}

const NO_ITEMS: readonly unknown[] = Object.freeze([]);

/** The list, or a shared empty one (read-only: checks only read what they get). */
export function asArr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : NO_ITEMS;
}

export function asStr(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Go `x != nil` for a JSON-decoded pointer/struct field. */
export function isSet(v: unknown): boolean {
  return v !== undefined && v !== null;
}

export function securityContext(c: JsonObj): JsonObj | undefined {
  return asObj(c.securityContext);
}

export function podSecurityContext(pod: PodView): JsonObj | undefined {
  return asObj(pod.spec.securityContext);
}

export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

// Field paths of the first containers, built once: every check visits every
// container, and the path is only read when a check fails.
const PATHS_CACHED = 32;
const CONTAINER_PATHS: Record<string, string[]> = Object.fromEntries(
  CONTAINER_LISTS.map((list) => [list, Array.from({ length: PATHS_CACHED }, (_, i) => `spec.${list}[${i}]`)]),
);
const EMPTY: JsonObj = Object.freeze({}) as JsonObj;

/** Calls fn for every container with its field path, e.g. `spec.initContainers[0]`. */
export function visitContainers(pod: PodView, fn: (c: JsonObj, path: string) => void): void {
  for (const list of CONTAINER_LISTS) {
    const items = pod.spec[list];
    if (!Array.isArray(items) || items.length === 0) continue;
    const paths = CONTAINER_PATHS[list]!;
    for (let i = 0; i < items.length; i++) fn(asObj(items[i]) ?? EMPTY, i < PATHS_CACHED ? paths[i]! : `spec.${list}[${i}]`);
  }
}

/**
 * True when some container's securityContext satisfies `test` — a scan that
 * allocates nothing, for checks to skip their reporting walk on the usual
 * passing Pod. `test` must be true for every container the check would report.
 */
export function someContainerContext(pod: PodView, test: (sc: JsonObj) => boolean): boolean {
  for (const list of CONTAINER_LISTS) {
    const items = pod.spec[list];
    if (!Array.isArray(items)) continue;
    for (const c of items) {
      const sc = asObj(asObj(c)?.securityContext);
      if (sc && test(sc)) return true;
    }
  }
  return false;
}

export function containerName(c: JsonObj): string {
  return asStr(c.name);
}

export function forbidden(field: string, badValue: BadValue = ''): FieldError {
  return { type: 'Forbidden', field, badValue };
}

export function required(field: string): FieldError {
  return { type: 'Required', field, badValue: '' };
}

export function pluralize(singular: string, plural: string, n: number): string {
  return n === 1 ? singular : plural;
}

/** Go %q approximated by JSON string quoting (identical for ordinary names). */
export function quote(s: string): string {
  return JSON.stringify(s);
}

export function joinQuote(items: readonly string[]): string {
  return items.map(quote).join(', ');
}

/** Sorted, de-duplicated copy (k8s sets.String.List()); byte-wise order like Go. */
export function sortedSet(items: Iterable<string>): string[] {
  return [...new Set(items)].sort(byteCompare);
}

export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `hostUsers: false` — the pod runs in a user namespace. */
export function inUserNamespace(pod: PodView): boolean {
  return pod.spec.hostUsers === false;
}

export function isWindowsPod(pod: PodView): boolean {
  return asObj(pod.spec.os)?.name === 'windows';
}
