/**
 * match / exclude: whether a rule applies to an admission request, with
 * Kyverno's semantics — AND across the attributes of one resource filter, OR
 * inside list attributes; `any` = one filter suffices, `all` = every filter;
 * user info (roles, clusterRoles, subjects) is ignored for matching when the
 * request carries no user info (offline CLI runs).
 */
import type { AdmissionInput, JsonObject, KubeObject } from './types.ts';
import { compileWildcard, hasWildcard, type StringMatcher } from './wildcard.ts';

export interface MatchTarget {
  input: AdmissionInput;
  /** The object matched against (new object, or old object on DELETE). */
  resource: KubeObject;
}

type Check = (t: MatchTarget) => boolean;
export type CompiledMatcher = (t: MatchTarget) => boolean;

interface KindSelector { group: StringMatcher; version: StringMatcher; kind: StringMatcher; sub?: StringMatcher }

interface KindParts { group: string; version: string; kind: string; sub?: string }

const isVersion = (s: string) => /^v\d+(?:(?:alpha|beta)\d+)?$/.test(s);

/** A kind with a `.subresource` suffix ("Pod.status"), as Kyverno's kind selectors allow. */
function kindAndSub(s: string): { kind: string; sub?: string } {
  const dot = s.indexOf('.');
  return dot < 0 ? { kind: s } : { kind: s.slice(0, dot), sub: s.slice(dot + 1) };
}

/**
 * Kyverno's kind selector, by position: "Pod", "Pod/exec" or "Pod.exec", "*\/*" (every
 * resource and subresource), "v1/Pod" and "*\/Deployment" (any group), "v1/Pod/status",
 * "apps/v1/Deployment", "apps/v1/Deployment/scale". Five parts or more select nothing.
 */
function kindParts(selector: string): KindParts | undefined {
  const p = selector.split('/');
  switch (p.length) {
    case 1: return { group: '*', version: '*', ...kindAndSub(p[0]!) };
    case 2:
      if (p[0] === '*' && (p[1] === '*' || /^[a-z]/.test(p[1]!))) return { group: '*', version: '*', kind: '*', sub: p[1]! };
      if (p[0] === '*' || isVersion(p[0]!)) return { group: '*', version: p[0]!, ...kindAndSub(p[1]!) };
      return { group: '*', version: '*', kind: p[0]!, sub: p[1]! };
    case 3:
      if (p[0] === '*' || isVersion(p[0]!)) return { group: '*', version: p[0]!, kind: p[1]!, sub: p[2]! };
      return { group: p[0]!, version: p[1]!, ...kindAndSub(p[2]!) };
    case 4: return { group: p[0]!, version: p[1]!, kind: p[2]!, sub: p[3]! };
    default: return undefined;
  }
}

/** The kind part of a kind selector ("apps/v1/Deployment" → "Deployment", "Pod/exec" → "Pod"). */
export function kindOfSelector(selector: string): string {
  return kindParts(selector)?.kind ?? selector;
}

const NOTHING: StringMatcher = () => false;

export function parseKindSelector(selector: string): KindSelector {
  const parts = kindParts(selector);
  if (!parts) return { group: NOTHING, version: NOTHING, kind: NOTHING };
  return {
    group: compileWildcard(parts.group),
    version: compileWildcard(parts.version),
    kind: compileWildcard(parts.kind),
    sub: parts.sub !== undefined ? compileWildcard(parts.sub) : undefined,
  };
}

function compileKinds(kinds: string[]): Check {
  const selectors = kinds.map(parseKindSelector);
  return ({ input }) => {
    const { group, version, kind } = input.kind;
    const sub = input.subResource ?? '';
    for (const s of selectors) {
      if (!s.group(group) || !s.version(version) || !s.kind(kind)) continue;
      if (!s.sub || s.sub(sub)) return true;
      if (kind === 'Pod' && group === '' && version === 'v1' && sub === 'ephemeralcontainers') return true;
    }
    return false;
  };
}

const nameOf = (r: KubeObject) => r.metadata?.name || r.metadata?.generateName || '';

function anyWildcard(patterns: string[]): (s: string) => boolean {
  const ms = patterns.map(compileWildcard);
  return (s) => ms.some((m) => m(s));
}

/** Label selector with Kyverno's wildcard support in matchLabels keys and values. */
export function compileLabelSelector(sel: JsonObject): (labels: Record<string, string> | undefined) => boolean {
  const matchLabels = Object.entries((sel.matchLabels as Record<string, string> | undefined) ?? {});
  const exprs = ((sel.matchExpressions as JsonObject[] | undefined) ?? []).map((e) => ({
    key: String(e.key), op: String(e.operator), values: ((e.values as string[] | undefined) ?? []).map(String),
  }));
  const labelChecks = matchLabels.map(([k, v]) => {
    if (!hasWildcard(k) && !hasWildcard(String(v))) return (l: Record<string, string>) => l[k] === String(v);
    const km = compileWildcard(k), vm = compileWildcard(String(v));
    return (l: Record<string, string>) => Object.entries(l).some(([lk, lv]) => km(lk) && vm(lv));
  });
  return (labels) => {
    const l = labels ?? {};
    for (const c of labelChecks) if (!c(l)) return false;
    for (const e of exprs) {
      const has = Object.prototype.hasOwnProperty.call(l, e.key);
      switch (e.op) {
        case 'In': if (!has || !e.values.includes(l[e.key]!)) return false; break;
        case 'NotIn': if (has && e.values.includes(l[e.key]!)) return false; break;
        case 'Exists': if (!has) return false; break;
        case 'DoesNotExist': if (has) return false; break;
        default: return false;
      }
    }
    return true;
  };
}

function compileResourceDescription(rd: JsonObject): Check[] {
  const checks: Check[] = [];
  const kinds = rd.kinds as string[] | undefined;
  if (kinds && kinds.length > 0) checks.push(compileKinds(kinds));
  if (typeof rd.name === 'string' && rd.name) {
    const m = compileWildcard(rd.name);
    checks.push(({ resource }) => m(nameOf(resource)));
  }
  const names = rd.names as string[] | undefined;
  if (names && names.length > 0) {
    const m = anyWildcard(names);
    checks.push(({ resource }) => m(nameOf(resource)));
  }
  const namespaces = rd.namespaces as string[] | undefined;
  if (namespaces && namespaces.length > 0) {
    const m = anyWildcard(namespaces);
    checks.push(({ resource, input }) => {
      const ns = resource.kind === 'Namespace' ? nameOf(resource) : (resource.metadata?.namespace ?? input.namespace ?? '');
      return m(ns);
    });
  }
  const annotations = rd.annotations as Record<string, string> | undefined;
  if (annotations && Object.keys(annotations).length > 0) {
    const pairs = Object.entries(annotations).map(([k, v]) => [compileWildcard(k), compileWildcard(String(v))] as const);
    checks.push(({ resource }) => {
      const actual = Object.entries(resource.metadata?.annotations ?? {});
      return pairs.every(([km, vm]) => actual.some(([k, v]) => km(k) && vm(String(v))));
    });
  }
  if (rd.selector && typeof rd.selector === 'object') {
    const m = compileLabelSelector(rd.selector as JsonObject);
    checks.push(({ resource }) => m(resource.metadata?.labels));
  }
  if (rd.namespaceSelector && typeof rd.namespaceSelector === 'object') {
    const m = compileLabelSelector(rd.namespaceSelector as JsonObject);
    checks.push(({ resource, input }) => {
      if (resource.kind === 'Namespace') return true;
      return m(input.namespaceLabels);
    });
  }
  const operations = rd.operations as string[] | undefined;
  if (operations && operations.length > 0) checks.push(({ input }) => operations.includes(input.operation));
  return checks;
}

function hasUserInfo(input: AdmissionInput): boolean {
  const u = input.userInfo;
  return !!(u.username || u.uid || (u.groups && u.groups.length) || input.roles.length || input.clusterRoles.length);
}

function compileUserInfo(f: JsonObject): Check[] {
  const checks: Check[] = [];
  const roles = f.roles as string[] | undefined;
  if (roles && roles.length > 0) checks.push(({ input }) => input.roles.some((r) => roles.includes(r)));
  const clusterRoles = f.clusterRoles as string[] | undefined;
  if (clusterRoles && clusterRoles.length > 0) checks.push(({ input }) => input.clusterRoles.some((r) => clusterRoles.includes(r)));
  const subjects = f.subjects as JsonObject[] | undefined;
  if (subjects && subjects.length > 0) {
    const ms = subjects.map((s) => {
      const name = String(s.name ?? '');
      switch (s.kind) {
        case 'ServiceAccount': {
          const m = compileWildcard(`system:serviceaccount:${String(s.namespace ?? '')}:${name}`);
          return (i: AdmissionInput) => m(i.userInfo.username ?? '');
        }
        case 'Group': {
          const m = compileWildcard(name);
          return (i: AdmissionInput) => (i.userInfo.groups ?? []).some((g) => m(g));
        }
        case 'User': {
          const m = compileWildcard(name);
          return (i: AdmissionInput) => m(i.userInfo.username ?? '');
        }
        default: return () => false;
      }
    });
    checks.push(({ input }) => ms.some((m) => m(input)));
  }
  return checks;
}

interface Filter {
  resource: Check[];
  user: Check[];
  empty: boolean;
  /** Only user info (roles, clusterRoles, subjects): empty once a request without user info drops it. */
  userOnly: boolean;
}

function compileFilter(f: JsonObject): Filter {
  const rd = (f.resources as JsonObject | undefined) ?? {};
  const resource = compileResourceDescription(rd);
  const user = compileUserInfo(f);
  const noResources = Object.keys(rd).length === 0;
  const empty = noResources && !f.roles && !f.clusterRoles && !f.subjects;
  return { resource, user, empty, userOnly: noResources && !empty };
}

function filterMatches(f: Filter, t: MatchTarget, forMatch: boolean): boolean {
  if (f.empty) return false; // "match cannot be empty"; an empty exclude excludes nothing
  for (const c of f.resource) if (!c(t)) return false;
  // Kyverno blanks the user info of a match filter when the request has none (offline
  // runs); a filter left with nothing then matches nothing ("match cannot be empty").
  if (forMatch && !hasUserInfo(t.input)) return !f.userOnly;
  for (const c of f.user) if (!c(t)) return false;
  return true;
}

function filtersOf(block: JsonObject): { mode: 'any' | 'all' | 'single'; filters: Filter[] } {
  const any = block.any as JsonObject[] | undefined;
  if (any && any.length > 0) return { mode: 'any', filters: any.map(compileFilter) };
  const all = block.all as JsonObject[] | undefined;
  if (all && all.length > 0) return { mode: 'all', filters: all.map(compileFilter) };
  return { mode: 'single', filters: [compileFilter(block)] };
}

/** Compile a rule's match and exclude blocks into one predicate. */
export function compileRuleMatcher(match: JsonObject | undefined, exclude: JsonObject | undefined, policyNamespace?: string): CompiledMatcher {
  const m = filtersOf(match ?? {});
  const x = exclude && Object.keys(exclude).length > 0 ? filtersOf(exclude) : undefined;
  return (t) => {
    if (policyNamespace !== undefined && (t.resource.metadata?.namespace ?? t.input.namespace ?? '') !== policyNamespace) return false;
    const matched = m.mode === 'any' ? m.filters.some((f) => filterMatches(f, t, true)) : m.filters.every((f) => filterMatches(f, t, true));
    if (!matched) return false;
    if (!x) return true;
    const excluded = x.mode === 'all' ? x.filters.every((f) => filterMatches(f, t, false)) : x.filters.some((f) => filterMatches(f, t, false));
    return !excluded;
  };
}
