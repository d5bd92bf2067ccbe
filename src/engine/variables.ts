/**
 * Kyverno variables: `{{ jmespath }}` substitution over the evaluation context,
 * following Kyverno's pkg/engine/variables:
 *  - a string that is exactly one `{{ … }}` takes the expression's JSON type;
 *    variables embedded in text are stringified (non-strings as Go JSON);
 *  - `\{{ … }}` is an escape and is left as `{{ … }}`;
 *  - nested variables resolve innermost first (`{{ f('{{ a }}') }}`);
 *  - map keys are substituted too;
 *  - on DELETE requests `request.object` reads `request.oldObject`;
 *  - `{{ @ }}` is the value at the same path in `target` (or `request.object`);
 *  - a field missing from an object is an error (`Unknown key "x" in path`),
 *    reported as `failed to resolve <var> at path <json pointer>: …`.
 * Templates are compiled once: strings are pre-split and expressions parsed
 * once; values without variables compile to an identity function.
 */
import type { AdmissionInput, JsonObject, JsonValue, KubeObject } from './types.ts';
import { compileQuery, JMESPathSyntaxError, goJsonMarshal } from './jmespath/index.ts';
import { clone as cloneJson } from './mutate/json.ts';

/** The JSON document JMESPath queries run against: request, images, element, context entries… */
export type ContextData = Record<string, JsonValue>;

/**
 * A shallow copy of `data` with `extra` entries on top (foreach elements, a
 * patched request.object). Entries defined as getters (the lazily computed
 * `images`) are copied as getters: an object spread would compute them.
 */
export function extendContext(data: ContextData, extra: ContextData): ContextData {
  const lazy = Object.getOwnPropertyDescriptor(data, 'images');
  if (lazy === undefined || lazy.get === undefined) return { ...data, ...extra };
  const out: ContextData = {};
  for (const k in data) if (k !== 'images' && Object.hasOwn(data, k)) out[k] = data[k]!;
  Object.defineProperty(out, 'images', lazy);
  for (const k in extra) if (Object.hasOwn(extra, k)) out[k] = extra[k]!;
  return out;
}

export class VariableError extends Error {
  /** The expression that failed (after `@` and DELETE rewriting). */
  readonly variable: string;
  /** JSON pointer of the string holding the variable ("" for a bare value). */
  readonly path: string;
  constructor(message: string, variable = '', path = '') {
    super(message);
    this.name = 'VariableError';
    this.variable = variable;
    this.path = path;
  }
}

export interface TemplateOptions {
  /**
   * JSON pointer of the value inside its rule (e.g. "/validate/pattern"); it
   * prefixes error paths and locates `{{@}}`.
   */
  basePath?: string;
  /**
   * Every call returns a private copy (parts without variables are deep-copied
   * too), so the caller may edit the result; by default they are shared.
   */
  fresh?: boolean;
}

export type Template = (data: ContextData) => JsonValue;

// ---- scanning ---------------------------------------------------------------

const varBody = /\{\{(?:\{[^{}]*\}|[^{}])*\}\}/y;
const MAX_PASSES = 100;

interface Found { start: number; end: number; escaped: boolean }

/** Variables (innermost `{{…}}`) and escaped variables of one string, left to right. */
function scan(s: string): Found[] {
  const out: Found[] = [];
  let i = s.indexOf('{{');
  while (i !== -1) {
    varBody.lastIndex = i;
    const m = varBody.exec(s);
    if (m) {
      out.push({ start: i, end: i + m[0].length, escaped: i > 0 && s[i - 1] === '\\' });
      i = s.indexOf('{{', i + m[0].length);
    } else {
      i = s.indexOf('{{', i + 1);
    }
  }
  return out;
}

/** The expression of `{{ expr }}`: every `{{`/`}}` removed, then trimmed (as Kyverno does). */
function expressionOf(v: string): string {
  return v.split('{{').join('').split('}}').join('').trim();
}

export function hasVariables(value: JsonValue): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (Array.isArray(value)) return value.some(hasVariables);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k.includes('{{') || hasVariables(v));
  }
  return false;
}

// ---- resolving one variable -------------------------------------------------

function pointerSegments(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer.replace(/^\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `{{@}}`: the JMESPath of this leaf's path under `target` or `request.object`. */
function currentValuePath(pointer: string, data: ContextData): string {
  let segs = pointerSegments(pointer);
  const fe = segs.lastIndexOf('foreach');
  if (fe !== -1) segs = segs.slice(fe + 1);
  segs = segs.slice(2);
  const prefix = Object.hasOwn(data, 'target') ? ['target'] : ['request', 'object'];
  let out = '';
  for (const seg of [...prefix, ...segs]) {
    if (/^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += (out ? '.' : '') + seg;
    else out += (out ? '.' : '') + JSON.stringify(seg);
  }
  return out;
}

function isDelete(data: ContextData): boolean {
  const req = data.request;
  return req !== null && typeof req === 'object' && !Array.isArray(req) && req.operation === 'DELETE';
}

function resolveVariable(raw: string, pointer: string, data: ContextData): JsonValue {
  let variable = raw;
  if (variable === '@') variable = variable.replace('@', currentValuePath(pointer, data));
  if (isDelete(data)) variable = variable.split('request.object').join('request.oldObject');
  const fail = (detail: string) =>
    new VariableError(`failed to resolve ${variable} at path ${pointer}: ${detail}`, variable, pointer);
  if (variable === '') throw fail('invalid query (nil)');
  let query;
  try {
    query = compileQuery(variable);
  } catch (e) {
    if (e instanceof JMESPathSyntaxError) throw fail(`incorrect query ${variable}: ${e.message}`);
    throw e;
  }
  try {
    return query.search(data as JsonValue);
  } catch (e) {
    throw fail(`JMESPath query failed: ${(e as Error).message}`);
  }
}

const asText = (v: JsonValue): string => (typeof v === 'string' ? v : goJsonMarshal(v));

// ---- string templates -------------------------------------------------------

type StringTemplate = (data: ContextData, pointer: string) => JsonValue;

function unescapeAll(s: string): string {
  if (!s.includes('\\{{')) return s;
  const found = scan(s).filter((f) => f.escaped);
  let out = '';
  let last = 0;
  for (const f of found) {
    out += s.slice(last, f.start - 1);
    last = f.start;
  }
  return out + s.slice(last);
}

/** Kyverno's loop: resolve innermost variables, repeat until none are left. */
function substituteDynamic(s: string, data: ContextData, pointer: string): JsonValue {
  let value = s;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const vars = scan(value).filter((f) => !f.escaped);
    if (vars.length === 0) break;
    if (vars.length === 1 && vars[0]!.start === 0 && vars[0]!.end === value.length) {
      return resolveVariable(expressionOf(value), pointer, data);
    }
    let out = '';
    let last = 0;
    for (const v of vars) {
      out += value.slice(last, v.start) + asText(resolveVariable(expressionOf(value.slice(v.start, v.end)), pointer, data));
      last = v.end;
    }
    value = out + value.slice(last);
  }
  return unescapeAll(value);
}

const stringCache = new Map<string, StringTemplate | null>();
const STRING_CACHE_LIMIT = 20_000;

/** null when the string has nothing to substitute or unescape. */
function compileString(s: string): StringTemplate | null {
  if (!s.includes('{{')) return null;
  const cached = stringCache.get(s);
  if (cached !== undefined) return cached;
  const found = scan(s);
  let tpl: StringTemplate | null;
  if (found.length === 0) {
    tpl = null;
  } else {
    // nested when braces remain once the innermost variables are taken out
    let skeleton = '';
    let last = 0;
    for (const f of found) { skeleton += s.slice(last, f.start); last = f.end; }
    skeleton += s.slice(last);
    if (skeleton.includes('{{') || skeleton.includes('}}')) {
      tpl = (data, pointer) => substituteDynamic(s, data, pointer);
    } else {
      tpl = compileFlat(s, found);
    }
  }
  if (stringCache.size >= STRING_CACHE_LIMIT) stringCache.delete(stringCache.keys().next().value!);
  stringCache.set(s, tpl);
  return tpl;
}

/** No nesting: literal parts and expressions are fixed; expressions pre-parsed where possible. */
function compileFlat(s: string, found: Found[]): StringTemplate | null {
  const literals: string[] = [];
  const exprs: string[] = [];
  let lit = '';
  let last = 0;
  for (const f of found) {
    if (f.escaped) {
      lit += s.slice(last, f.start - 1) + s.slice(f.start, f.end);
    } else {
      lit += s.slice(last, f.start);
      literals.push(lit);
      lit = '';
      exprs.push(expressionOf(s.slice(f.start, f.end)));
    }
    last = f.end;
  }
  lit += s.slice(last);
  if (exprs.length === 0) {
    const text = lit;
    return () => text;
  }
  literals.push(lit);
  for (const e of exprs) {
    // warm the parse cache; syntax errors are reported at evaluation time
    if (e !== '' && e !== '@') { try { compileQuery(e); } catch { /* reported later */ } }
  }
  const whole = exprs.length === 1 && literals[0] === '' && literals[1] === '' && found.length === 1;
  if (whole) {
    const e = exprs[0]!;
    return (data, pointer) => resolveVariable(e, pointer, data);
  }
  return (data, pointer) => {
    let out = literals[0]!;
    for (let i = 0; i < exprs.length; i++) out += asText(resolveVariable(exprs[i]!, pointer, data)) + literals[i + 1]!;
    return out;
  };
}

// ---- value templates --------------------------------------------------------

const escapePointer = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** Internal compiled form: null = no substitution needed (identity). */
type Compiled = ((data: ContextData) => JsonValue) | null;

function compileValue(value: JsonValue, pointer: string, fresh: boolean): Compiled {
  // A private copy of a part without variables (shared when not `fresh`).
  const constant = (v: JsonValue): JsonValue => (fresh && v !== null && typeof v === 'object' ? cloneJson(v) : v);
  if (typeof value === 'string') {
    const t = compileString(value);
    return t ? (data) => t(data, pointer) : null;
  }
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileValue(v, `${pointer}/${i}`, fresh));
    if (items.every((c) => c === null)) return null;
    return (data) => value.map((v, i) => (items[i] ? items[i]!(data) : constant(v)));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => {
      const keyT = compileString(k);
      return { k, v, keyT, valT: compileValue(v, `${pointer}/${escapePointer(k)}`, fresh) };
    });
    if (entries.every((e) => e.keyT === null && e.valT === null)) return null;
    return (data) => {
      const out: JsonObject = {};
      for (const e of entries) {
        const key = e.keyT ? e.keyT(data, `${pointer}/${escapePointer(e.k)}`) : e.k;
        out[typeof key === 'string' ? key : asText(key)] = e.valT ? e.valT(data) : constant(e.v);
      }
      return out;
    };
  }
  return null;
}

/**
 * Compile once, evaluate per request. Returns the input itself (shared, do
 * not mutate) when there is nothing to substitute.
 */
export function compileTemplate(value: JsonValue, options: TemplateOptions = {}): Template {
  const fresh = options.fresh === true;
  const c = compileValue(value, options.basePath ?? '', fresh);
  if (c) return c;
  return fresh && value !== null && typeof value === 'object' ? () => cloneJson(value) : () => value;
}

const objectCache = new WeakMap<object, Template>();

/**
 * Replace every `{{ … }}` in strings found anywhere in `value` (deeply).
 * A string that is exactly one `{{ … }}` takes the expression's JSON type.
 * Throws VariableError when a variable cannot be resolved. Compilation is
 * cached per object identity / string, so repeated calls stay cheap.
 */
export function substituteVariables(value: JsonValue, data: ContextData, options?: TemplateOptions): JsonValue {
  if (typeof value === 'string') {
    const t = compileString(value);
    return t ? t(data, options?.basePath ?? '') : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (options?.basePath) return compileTemplate(value, options)(data);
  let t = objectCache.get(value);
  if (!t) {
    t = compileTemplate(value);
    objectCache.set(value, t);
  }
  return t(data);
}

/**
 * Evaluate one JMESPath expression (parsed once and cached) against data,
 * with Kyverno's functions. Throws VariableError (`JMESPath query failed: …`)
 * on a missing key or a function error, and on a syntax error.
 */
export function evaluateJMESPath(expression: string, data: JsonValue): JsonValue {
  let query;
  try {
    query = compileQuery(expression.trim());
  } catch (e) {
    throw new VariableError(`incorrect query ${expression}: ${(e as Error).message}`, expression);
  }
  try {
    return query.search(data);
  } catch (e) {
    throw new VariableError(`JMESPath query failed: ${(e as Error).message}`, expression);
  }
}

// ---- context data -----------------------------------------------------------

/**
 * The standard context for an admission input: `request` (operation, object,
 * oldObject, userInfo, roles, clusterRoles, namespace, name, kind, dryRun…),
 * `serviceAccountName`/`serviceAccountNamespace`, `images` from the callback,
 * then `extras` on top.
 */
export function buildContextData(
  input: AdmissionInput,
  extras?: ContextData,
  images?: (resource: KubeObject) => JsonValue | undefined,
): ContextData {
  const object = input.object;
  const { group, version, kind } = input.kind;
  const request: JsonObject = {
    ...(input.requestExtras ?? {}),
    operation: input.operation,
    object: (object ?? null) as JsonValue,
    oldObject: (input.oldObject ?? null) as JsonValue,
    userInfo: input.userInfo as unknown as JsonValue,
    roles: input.roles,
    clusterRoles: input.clusterRoles,
    namespace: input.namespace ?? object?.metadata?.namespace ?? input.oldObject?.metadata?.namespace ?? '',
    name: input.name ?? object?.metadata?.name ?? input.oldObject?.metadata?.name ?? '',
    kind: { group, version, kind },
    dryRun: input.dryRun ?? false,
  };
  if (input.subResource) request.subResource = input.subResource;
  const data: ContextData = { request, ...serviceAccountOf(input.userInfo.username ?? '') };
  const resource = object ?? input.oldObject;
  if (images && resource) {
    const v = images(resource);
    if (v !== undefined) data.images = v;
  }
  if (extras) Object.assign(data, extras);
  return data;
}

/**
 * Kyverno strips the "system:serviceaccount:" prefix by length and splits the
 * rest on ":" (namespace, name); other usernames give empty strings.
 */
export function serviceAccountOf(username: string): { serviceAccountName: string; serviceAccountNamespace: string } {
  // The same few controllers send most reviews: answer each username once.
  let sa = serviceAccounts.get(username);
  if (!sa) {
    if (serviceAccounts.size >= 1000) serviceAccounts.clear();
    serviceAccounts.set(username, (sa = Object.freeze(parseServiceAccount(username))));
  }
  return sa;
}

const serviceAccounts = new Map<string, Readonly<{ serviceAccountName: string; serviceAccountNamespace: string }>>();

function parseServiceAccount(username: string): { serviceAccountName: string; serviceAccountNamespace: string } {
  const prefix = 'system:serviceaccount:';
  const rest = username.length <= prefix.length ? '' : username.slice(prefix.length);
  const parts = rest.split(':');
  if (parts.length >= 2) return { serviceAccountName: parts[1]!, serviceAccountNamespace: parts[0]! };
  return { serviceAccountName: '', serviceAccountNamespace: '' };
}

/** Split a dotted variable name; `"…"` segments may contain dots. */
function splitDotted(name: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of name) {
    if (c === '"') { quoted = !quoted; continue; }
    if (c === '.' && !quoted) { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Set a variable by dotted name, as Kyverno CLI Test/values files do
 * (`request.operation: UPDATE`), creating or replacing objects on the way.
 */
export function setVariable(data: ContextData, dottedName: string, value: JsonValue): void {
  const parts = splitDotted(dottedName);
  let cur = data as JsonObject;
  for (const k of parts.slice(0, -1)) {
    const next = cur[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[k] = {};
    else cur[k] = { ...next };
    cur = cur[k] as JsonObject;
  }
  cur[parts[parts.length - 1]!] = value;
}
