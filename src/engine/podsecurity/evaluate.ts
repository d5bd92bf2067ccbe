/**
 * Kyverno's podSecurity evaluation (pkg/pss/evaluate.go): run the level's
 * checks at the requested version, then let each `exclude` entry exempt
 * individual field errors.
 *
 * Version semantics follow Kyverno, not the apiserver: "latest" runs only the
 * newest version of each check, while a pinned `v1.N` runs *every* version of a
 * check whose minimum is <= N (so older, stricter versions still report).
 * Any level other than "baseline" runs every check, restricted ones included.
 */
import { compileWildcard, type StringMatcher } from '../wildcard.ts';
import { asArr, asObj, asStr, CONTAINER_LISTS } from './helpers.ts';
import { CHECKS, CONTROL_CHECK_IDS, controlNameOf } from './registry.ts';
import type {
  BadValue, CheckFn, CheckOutcome, FieldError, JsonObj, PodSecurityExclude, PodSecurityResult, PodView, Violation,
} from './types.ts';

export class PodSecurityVersionError extends Error {
  override name = 'PodSecurityVersionError';
}

/** Parses `version` like pod-security-admission's api.ParseVersion; undefined means latest. */
export function parsePodSecurityVersion(version: string | undefined): number | undefined {
  if (version === undefined || version === '' || version === 'latest') return undefined;
  const m = /^v1\.(0|[1-9][0-9]{0,3})$/.exec(version);
  if (!m) throw new PodSecurityVersionError('must be "latest" or "v1.x"');
  return Number(m[1]);
}

interface SelectedCheck {
  id: string;
  fns: CheckFn[];
}

/** The check functions one level/version runs, chosen once at compile time. */
export function selectChecks(level: string, minor: number | undefined): SelectedCheck[] {
  const selected: SelectedCheck[] = [];
  for (const check of CHECKS) {
    if (level === 'baseline' && check.level !== 'baseline') continue;
    let fns: CheckFn[];
    if (minor === undefined) {
      // newest version wins; on equal minimums the later registration wins, as upstream
      let newest = check.versions[0];
      for (const v of check.versions) if (v.minor >= newest.minor) newest = v;
      fns = [newest.check];
    } else {
      fns = check.versions.filter((v) => v.minor <= minor).map((v) => v.check);
    }
    if (fns.length) selected.push({ id: check.id, fns });
  }
  return selected;
}

interface CheckResult {
  id: string;
  outcome: CheckOutcome;
}

function runChecks(checks: readonly SelectedCheck[], pod: PodView): CheckResult[] {
  const results: CheckResult[] = [];
  for (const check of checks) {
    for (const fn of check.fns) {
      const outcome = fn(pod);
      if (outcome) results.push({ id: check.id, outcome });
    }
  }
  return results;
}

interface CompiledExclude {
  ids: readonly string[];
  /** null: no images — the exclusion applies to pod-level fields. */
  images: StringMatcher[] | null;
  restrictedField: string;
  values: StringMatcher[];
}

export function compileExcludes(excludes: readonly PodSecurityExclude[] | undefined): CompiledExclude[] {
  return (excludes ?? []).map((ex) => ({
    ids: CONTROL_CHECK_IDS[ex.controlName] ?? [],
    images: ex.images && ex.images.length ? ex.images.map((p) => compileWildcard(String(p))) : null,
    restrictedField: ex.restrictedField ?? '',
    values: (ex.values ?? []).map((p) => compileWildcard(String(p))),
  }));
}

/** The pod Kyverno evaluates for an image-less exclusion: pod fields kept, containers replaced by one bare "fake". */
function podLevelCopy(pod: PodView): PodView {
  const spec: JsonObj = { ...pod.spec, containers: [{ name: 'fake' }] };
  delete spec.initContainers;
  delete spec.ephemeralContainers;
  return { metadata: pod.metadata, spec };
}

/** The pod Kyverno evaluates for an exclusion with images: only the matching containers, nothing else. */
function matchingContainersPod(pod: PodView, images: StringMatcher[]): PodView {
  const spec: JsonObj = {};
  for (const list of CONTAINER_LISTS) {
    const matched = asArr(pod.spec[list]).filter((c) => {
      const image = asStr(asObj(c)?.image);
      return images.some((m) => m(image));
    });
    if (matched.length) spec[list] = matched;
  }
  return { metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace }, spec };
}

const DIGITS = /\d+/g;
const WORDS = /[a-zA-Z]+/g;

interface ParsedField {
  field: string;
  index: number;
  list: string;
  containerLevel: boolean;
}

/** Kyverno's parseField: indexes become `*`; the second word names the container list, if any. */
function parseField(field: string): ParsedField {
  const indexes = field.match(DIGITS) ?? [];
  const words = field.match(WORDS) ?? [];
  const list = words[1] ?? '';
  return {
    field: field.replace(DIGITS, '*'),
    index: indexes.length ? Number(indexes[0]) : 0,
    list,
    containerLevel: (CONTAINER_LISTS as readonly string[]).includes(list),
  };
}

function containerNameAt(pod: PodView, list: string, index: number): string {
  return asStr(asObj(asArr(pod.spec[list])[index])?.name);
}

/** Kyverno's extractBadValues: the strings an exclusion's `values` must cover. */
function badValueStrings(v: BadValue): string[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v === '' ? [] : [v];
  return [String(v)];
}

function exempt(
  current: Map<string, CheckResult>,
  excluded: readonly CheckResult[],
  ex: CompiledExclude,
  pod: PodView,
  matching: PodView | null,
  view: FieldView,
): void {
  for (const exResult of excluded) {
    if (!ex.ids.includes(exResult.id)) continue;
    for (const exErr of exResult.outcome.errors) {
      let exField: string;
      let exContainer: string | undefined;
      if (matching) {
        const p = parseField(exErr.field);
        exField = p.field;
        if (p.containerLevel) exContainer = containerNameAt(matching, p.list, p.index);
      } else {
        exField = exErr.field.replace(DIGITS, '*');
      }
      if (ex.restrictedField !== '' && exField !== ex.restrictedField) continue;
      if (ex.values.length && !badValueStrings(exErr.badValue).every((v) => ex.values.some((m) => m(v)))) continue;
      const target = current.get(exResult.id);
      if (!target) continue;
      removeOne(target.outcome.errors, pod, exField, exContainer, matching !== null, view);
      if (!target.outcome.errors.length) current.delete(exResult.id);
    }
  }
}

/** Removes the first error on the same field (and container) — swapping in the last one, as Kyverno does. */
function removeOne(
  errors: FieldError[], pod: PodView, field: string, container: string | undefined, containerMode: boolean, view: FieldView,
): void {
  for (let i = 0; i < errors.length; i++) {
    const current = view(errors[i].field);
    let same: boolean;
    if (containerMode) {
      const p = parseField(current);
      same = p.field === field && (!p.containerLevel || container === containerNameAt(pod, p.list, p.index));
    } else {
      same = current.replace(DIGITS, '*') === field;
    }
    if (same) {
      errors[i] = errors[errors.length - 1];
      errors.pop();
      return;
    }
  }
}

/** How a failed check's field reads when exclusions compare against it (see applyExcludes). */
type FieldView = (field: string) => string;
const asIs: FieldView = (f) => f;

/**
 * Kyverno's ApplyPodSecurityExclusion: results collapse to one per check id (the
 * last wins, as in Kyverno's map), then each exclude entry evaluates its own pod
 * (image-less: pod fields plus a bare container; with images: only the matching
 * containers) and removes the failed fields that pod also fails.
 */
function applyExcludes(
  checks: readonly SelectedCheck[], excludes: readonly CompiledExclude[], pod: PodView, results: CheckResult[], view: FieldView,
): CheckResult[] {
  if (!excludes.length || !results.length) return results;
  const current = new Map<string, CheckResult>();
  for (const r of results) current.set(r.id, r);
  for (const ex of excludes) {
    if (!current.size) break;
    if (!ex.ids.some((id) => current.has(id))) continue;
    if (ex.images === null) {
      exempt(current, runChecks(checks, podLevelCopy(pod)), ex, pod, null, view);
    } else {
      const matching = matchingContainersPod(pod, ex.images);
      exempt(current, runChecks(checks, matching), ex, pod, matching, view);
    }
  }
  return [...current.values()];
}

function toViolations(results: readonly CheckResult[]): Violation[] {
  return results.map(({ id, outcome }) => ({
    id,
    controlName: controlNameOf(id),
    reason: outcome.reason,
    detail: outcome.detail,
    errors: outcome.errors,
  }));
}

export type PodEvaluator = (pod: PodView) => PodSecurityResult;

export function buildEvaluator(checks: readonly SelectedCheck[], excludes: readonly CompiledExclude[]): PodEvaluator {
  return (pod) => {
    const violations = toViolations(applyExcludes(checks, excludes, pod, runChecks(checks, pod), asIs));
    return { allowed: violations.length === 0, violations };
  };
}

/** Applies a PolicyException's podSecurity entries to the violations of a failed rule. */
export type ExceptionApplier = (pod: PodView, violations: readonly Violation[], kind: string) => Violation[];

export function buildExceptionApplier(
  checks: readonly SelectedCheck[], excludes: readonly CompiledExclude[], resourceField: (field: string, kind: string) => string,
): ExceptionApplier {
  return (pod, violations, kind) => {
    // Kyverno applies exception entries after rewriting the failed fields to resource paths
    // (spec.template.spec… for controllers, spec.template.metadata… for annotations), so
    // only fields that the rewrite leaves unchanged can match.
    const results = violations.map((v) => ({ id: v.id, outcome: { reason: v.reason, detail: v.detail, errors: [...v.errors] } }));
    return toViolations(applyExcludes(checks, excludes, pod, results, (f) => resourceField(f, kind)));
  };
}
