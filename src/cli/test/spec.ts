/**
 * The Kyverno CLI file formats (`cli.kyverno.io/v1alpha1` Test, Values,
 * UserInfo), parsed from plain JSON into typed, defaulted structures. Unknown
 * fields are ignored; wrong types become errors naming the field.
 */
import type { JsonObject, JsonValue, Operation, UserInfo } from '../../engine/types.ts';

export type ExpectedResult = 'pass' | 'fail' | 'skip' | 'warn' | 'error';
const RESULTS: readonly string[] = ['pass', 'fail', 'skip', 'warn', 'error'];

/** One `results[]` entry of a Test. */
export interface TestExpectation {
  policy: string;
  rule: string;
  /** `result`, or the deprecated `status`. */
  result: ExpectedResult;
  kind: string;
  /** `resources[]`, or the deprecated single `resource`. Names, or `namespace/name`. */
  resources: string[];
  /** Deprecated: namespace the resource must be in. */
  namespace: string;
  /** `patchedResources` (or the deprecated `patchedResource`): file with the expected mutated resource. */
  patchedResource: string;
  /**
   * Files with the expected generated resources: `generatedResources` (Kyverno
   * 1.17.2+, for rules that generate several) or the single `generatedResource`.
   */
  generatedResources: string[];
  cloneSourceResource: string;
  /** `resourceOperation`: the operation its resources are admitted with (else the Values' `request.operation`). */
  resourceOperation: Operation | undefined;
  /** CEL / admission policy kinds: match every rule response of the policy (no rule name). */
  anyRule: boolean;
  /** Index in the Test's results[], for reports. */
  index: number;
}

export interface TestCheck {
  match: { resource?: JsonValue; policy?: JsonValue; rule?: JsonValue };
  assert?: JsonValue;
  error?: JsonValue;
}

export interface TestSpec {
  name: string;
  policies: string[];
  resources: string[];
  /** Earlier versions of `resources`: the old object of an UPDATE (or DELETE) of the same resource. */
  oldResources: string[];
  variables: string;
  userinfo: string;
  exceptions: string[];
  targetResources: string[];
  clusterResources: string[];
  /** Files with the objects admission policy bindings' paramRef select (`paramResources`). */
  paramResources: string[];
  context: string;
  values?: ValuesSpec;
  results: TestExpectation[];
  checks: TestCheck[];
}

export interface ValuesRule {
  name: string;
  values: JsonObject;
  foreachValues: JsonValue[];
}

export interface ValuesResource {
  name: string;
  values: JsonObject;
}

export interface ValuesPolicy {
  name: string;
  resources: ValuesResource[];
  rules: ValuesRule[];
}

export interface ValuesSubresource {
  subresource: { name: string; kind: string; group: string; version: string };
  parentResource: { name: string; kind: string; group: string; version: string };
}

export interface ValuesSpec {
  globalValues: JsonObject;
  policies: ValuesPolicy[];
  /** Namespace name → labels (from `namespaceSelector[]` and `namespaces[]`, the latter winning). */
  namespaceLabels: Map<string, Record<string, string>>;
  /** Whole Namespace objects from `namespaces[]` (CEL's namespaceObject), by name. */
  namespaceObjects?: Map<string, JsonObject>;
  subresources: ValuesSubresource[];
}

export interface RequestUserInfo {
  userInfo: UserInfo;
  roles: string[];
  clusterRoles: string[];
}

export class SpecError extends Error {}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A field of a CLI document, matched as Kyverno's decoder (Go's encoding/json)
 * matches struct fields: the exact key if present, else any key equal to it
 * ignoring case (`userInfo` fills `userinfo`, `Policies` fills `policies`); of
 * several such keys the last one wins, as each overwrites the field in turn.
 * Only field names fold: the keys inside user data (values, labels) are kept.
 */
export function field(obj: JsonObject, key: string): JsonValue | undefined {
  if (Object.hasOwn(obj, key)) return obj[key];
  const folded = key.toLowerCase();
  let found: JsonValue | undefined;
  for (const k in obj) if (Object.hasOwn(obj, k) && k.length === key.length && k.toLowerCase() === folded) found = obj[k];
  return found;
}

function str(obj: JsonObject, key: string, where: string): string {
  const v = field(obj, key);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new SpecError(`${where}.${key}: expected a string`);
  return v;
}

function strList(obj: JsonObject, key: string, where: string): string[] {
  const v = field(obj, key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpecError(`${where}.${key}: expected a list of strings`);
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new SpecError(`${where}.${key}[${i}]: expected a string`);
    return x;
  });
}

function objectOf(obj: JsonObject, key: string, where: string): JsonObject {
  const v = field(obj, key);
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new SpecError(`${where}.${key}: expected an object`);
  return v;
}

function listOf(obj: JsonObject, key: string, where: string): JsonValue[] {
  const v = field(obj, key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpecError(`${where}.${key}: expected a list`);
  return v;
}

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

function operationField(raw: JsonObject, where: string): Operation | undefined {
  const op = str(raw, 'resourceOperation', where);
  if (op === '') return undefined;
  if (!OPERATIONS.includes(op)) throw new SpecError(`${where}.resourceOperation: expected one of ${OPERATIONS.join(', ')}, got ${JSON.stringify(op)}`);
  return op as Operation;
}

function parseExpectation(raw: JsonValue, index: number): TestExpectation {
  const where = `results[${index}]`;
  if (!isObject(raw)) throw new SpecError(`${where}: expected an object`);
  const result = (str(raw, 'result', where) || str(raw, 'status', where)).toLowerCase();
  if (!RESULTS.includes(result)) {
    throw new SpecError(`${where}.result: expected one of ${RESULTS.join(', ')}, got "${result}"`);
  }
  let resources = strList(raw, 'resources', where);
  const single = str(raw, 'resource', where);
  if (resources.length === 0 && single !== '') resources = [single];
  const anyRule = ['isValidatingAdmissionPolicy', 'isValidatingPolicy', 'isImageValidatingPolicy', 'isMutatingAdmissionPolicy',
    'isDeletingPolicy', 'isGeneratingPolicy', 'isMutatingPolicy'].some((k) => field(raw, k) === true);
  const policy = str(raw, 'policy', where);
  if (policy === '') throw new SpecError(`${where}.policy: required`);
  return {
    policy,
    rule: str(raw, 'rule', where),
    result: result as ExpectedResult,
    kind: str(raw, 'kind', where),
    resources,
    namespace: str(raw, 'namespace', where),
    patchedResource: str(raw, 'patchedResources', where) || str(raw, 'patchedResource', where),
    generatedResources: generatedFiles(raw, where),
    cloneSourceResource: str(raw, 'cloneSourceResource', where),
    resourceOperation: operationField(raw, where),
    anyRule,
    index,
  };
}

function generatedFiles(raw: JsonObject, where: string): string[] {
  const files = strList(raw, 'generatedResources', where);
  const single = str(raw, 'generatedResource', where);
  return files.length > 0 ? files : single !== '' ? [single] : [];
}

/** Parse a Test document. Throws SpecError on a malformed document. */
export function parseTest(raw: unknown): TestSpec {
  if (!isObject(raw)) throw new SpecError('test: expected an object');
  const kind = field(raw, 'kind');
  if (kind !== undefined && kind !== 'Test') throw new SpecError(`test: unexpected kind "${String(kind)}"`);
  const meta = objectOf(raw, 'metadata', 'test');
  const name = str(meta, 'name', 'metadata') || str(raw, 'name', 'test');
  const results = listOf(raw, 'results', 'test').map((r, i) => parseExpectation(r, i));
  const checks = listOf(raw, 'checks', 'test').map((c, i): TestCheck => {
    if (!isObject(c)) throw new SpecError(`checks[${i}]: expected an object`);
    const m = objectOf(c, 'match', `checks[${i}]`);
    return { match: { resource: field(m, 'resource'), policy: field(m, 'policy'), rule: field(m, 'rule') }, assert: field(c, 'assert'), error: field(c, 'error') };
  });
  const rawValues = field(raw, 'values');
  const values = rawValues !== undefined && rawValues !== null ? parseValues(rawValues, 'values') : undefined;
  return {
    name,
    policies: strList(raw, 'policies', 'test'),
    resources: strList(raw, 'resources', 'test'),
    oldResources: strList(raw, 'oldResources', 'test'),
    variables: str(raw, 'variables', 'test'),
    // `userInfo`, a common spelling (Kyverno's MAP suites use it), folds to this field.
    userinfo: str(raw, 'userinfo', 'test'),
    exceptions: strList(raw, 'exceptions', 'test'),
    targetResources: strList(raw, 'targetResources', 'test'),
    clusterResources: strList(raw, 'clusterResources', 'test'),
    paramResources: strList(raw, 'paramResources', 'test'),
    context: str(raw, 'context', 'test'),
    values,
    results,
    checks,
  };
}

function stringMap(v: JsonValue | undefined, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new SpecError(`${where}: expected a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'string' ? x : JSON.stringify(x);
  return out;
}

function apiResource(v: JsonValue | undefined, where: string): ValuesSubresource['subresource'] {
  const o = isObject(v) ? v : {};
  return { name: str(o, 'name', where), kind: str(o, 'kind', where), group: str(o, 'group', where), version: str(o, 'version', where) };
}

/**
 * Parse a Values document: `cli.kyverno.io/v1alpha1` Values, or the legacy
 * format without apiVersion (same fields at the top level).
 */
export function parseValues(raw: unknown, where = 'values'): ValuesSpec {
  if (!isObject(raw)) throw new SpecError(`${where}: expected an object`);
  const policies = listOf(raw, 'policies', where).map((p, i): ValuesPolicy => {
    const w = `${where}.policies[${i}]`;
    if (!isObject(p)) throw new SpecError(`${w}: expected an object`);
    return {
      name: str(p, 'name', w),
      resources: listOf(p, 'resources', w).map((r, j) => {
        const wr = `${w}.resources[${j}]`;
        if (!isObject(r)) throw new SpecError(`${wr}: expected an object`);
        return { name: str(r, 'name', wr), values: objectOf(r, 'values', wr) };
      }),
      rules: listOf(p, 'rules', w).map((r, j) => {
        const wr = `${w}.rules[${j}]`;
        if (!isObject(r)) throw new SpecError(`${wr}: expected an object`);
        // A list of maps, one per foreach block (newer Kyverno), or one map (older Kyverno).
        const fv = field(r, 'foreachValues');
        return { name: str(r, 'name', wr), values: objectOf(r, 'values', wr), foreachValues: isObject(fv) ? [fv] : listOf(r, 'foreachValues', wr) };
      }),
    };
  });
  const namespaceLabels = new Map<string, Record<string, string>>();
  listOf(raw, 'namespaceSelector', where).forEach((n, i) => {
    const w = `${where}.namespaceSelector[${i}]`;
    if (!isObject(n)) throw new SpecError(`${w}: expected an object`);
    namespaceLabels.set(str(n, 'name', w), stringMap(field(n, 'labels'), `${w}.labels`));
  });
  // `namespaces[]` holds whole Namespace objects and takes precedence.
  const namespaceObjects = new Map<string, JsonObject>();
  listOf(raw, 'namespaces', where).forEach((n, i) => {
    const w = `${where}.namespaces[${i}]`;
    if (!isObject(n)) throw new SpecError(`${w}: expected an object`);
    const meta = objectOf(n, 'metadata', w);
    const name = str(meta, 'name', `${w}.metadata`);
    namespaceLabels.set(name, stringMap(field(meta, 'labels'), `${w}.metadata.labels`));
    namespaceObjects.set(name, n);
  });
  const subresources = listOf(raw, 'subresources', where).map((s, i) => {
    const w = `${where}.subresources[${i}]`;
    if (!isObject(s)) throw new SpecError(`${w}: expected an object`);
    return { subresource: apiResource(field(s, 'subresource'), `${w}.subresource`), parentResource: apiResource(field(s, 'parentResource'), `${w}.parentResource`) };
  });
  return { globalValues: objectOf(raw, 'globalValues', where), policies, namespaceLabels, namespaceObjects, subresources };
}

/** Parse a UserInfo document (new `cli.kyverno.io/v1alpha1` UserInfo or the legacy RequestInfo layout — same fields). */
export function parseUserInfo(raw: unknown): RequestUserInfo {
  if (!isObject(raw)) throw new SpecError('userinfo: expected an object');
  const ui = objectOf(raw, 'userInfo', 'userinfo');
  const userInfo: UserInfo = {};
  const username = str(ui, 'username', 'userInfo');
  if (username !== '') userInfo.username = username;
  const uid = str(ui, 'uid', 'userInfo');
  if (uid !== '') userInfo.uid = uid;
  const groups = strList(ui, 'groups', 'userInfo');
  if (groups.length > 0) userInfo.groups = groups;
  const extra = objectOf(ui, 'extra', 'userInfo');
  if (Object.keys(extra).length > 0) {
    userInfo.extra = {};
    for (const [k, v] of Object.entries(extra)) userInfo.extra[k] = Array.isArray(v) ? v.map(String) : [String(v)];
  }
  return { userInfo, roles: strList(raw, 'roles', 'userinfo'), clusterRoles: strList(raw, 'clusterRoles', 'userinfo') };
}

/**
 * The variables a policy sees for one resource, as the Kyverno CLI merges them
 * before building the request: global values, then the policy's per-resource
 * values. These decide the operation (`request.operation`).
 */
export function computeVariables(values: ValuesSpec | undefined, policyName: string, resourceName: string): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  if (!values) return out;
  Object.assign(out, values.globalValues);
  for (const p of values.policies) {
    if (p.name !== policyName) continue;
    for (const r of p.resources) if (r.name === resourceName) Object.assign(out, r.values);
  }
  return out;
}

/**
 * Per-rule values of a policy (rule name → values). The Kyverno CLI adds them
 * to the context of that rule only, by exact rule name (so `autogen-` rules do
 * not get them), and they do not change the request's operation.
 */
/** A rule's Values: variables, and per-element foreach values (a list of maps, one per foreach block). */
export interface RuleValues {
  values: JsonObject;
  foreachValues: JsonObject[];
}

/** The Values of the policy's rules that have any, by rule name. */
export function ruleValues(values: ValuesSpec | undefined, policyName: string): Map<string, RuleValues> {
  const out = new Map<string, RuleValues>();
  if (!values) return out;
  for (const p of values.policies) {
    if (p.name !== policyName) continue;
    for (const r of p.rules) {
      const foreach = r.foreachValues.filter((m): m is JsonObject => m !== null && typeof m === 'object' && !Array.isArray(m));
      if (Object.keys(r.values).length === 0 && foreach.length === 0) continue;
      const prev = out.get(r.name);
      out.set(r.name, { values: { ...(prev?.values ?? {}), ...r.values }, foreachValues: [...(prev?.foreachValues ?? []), ...foreach] });
    }
  }
  return out;
}
