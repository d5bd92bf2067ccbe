/**
 * Schema check of policy documents against Kyverno's own CRD schemas, with ajv.
 * A validator is compiled once per (group, version, kind) on first use and
 * applies the CRD defaults (as the apiserver would) to the checked document.
 *
 * The build precompiles them (precompile-schemas.ts → dist/policy/validators):
 * compiling a CRD schema in the server leaves ~30 MiB of freed compiler memory
 * that the allocator keeps resident, while loading the generated module costs
 * a few MiB. A precompiled validator is used only when its manifest records the
 * same schema text and options; otherwise ajv compiles in process, as before.
 */
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFunction } from 'node:vm';
import { Ajv, type Options, type ValidateFunction, type ErrorObject } from 'ajv';

const schemaDir = fileURLToPath(new URL('./schemas/', import.meta.url));
const validators = new Map<string, ValidateFunction | null>();

/** Where the build puts precompiled validators (absent when running from sources). */
let precompiledDir = fileURLToPath(new URL('./validators/', import.meta.url));
let manifest: Record<string, string> | null | undefined;

/** Names the ajv options and schemaToCompile in the manifest: change it when either changes. */
const OPTIONS_ID = 'portcullis-ajv-2';

/** The manifest entry for a schema: its text and the options it is compiled with. */
export function schemaFingerprint(schemaText: string): string {
  return createHash('sha256').update(OPTIONS_ID).update('\0').update(schemaText).digest('hex');
}

export function makeAjv(extra: Options = {}): Ajv {
  return new Ajv({
    ...extra,
    strict: false,
    allErrors: false,
    useDefaults: true,
    validateFormats: false,
    // Kubernetes structural-schema extensions carry no validation for us.
    keywords: ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-list-type',
      'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations', 'x-kubernetes-embedded-resource'],
    // The CRD schemas are large and fully inlined; ajv's code optimiser gains
    // nothing measurable on them but doubles compile time and the memory left
    // behind (measured on ClusterPolicy v1: ~87 → ~45 MiB RSS, 740 → 300 ms).
    code: { optimize: false, ...extra.code },
    // schemaToCompile's $refs stay separate functions.
    inlineRefs: false,
  });
}
let ajv = makeAjv();

/** Subschemas larger than this (JSON characters) become functions of their own. */
const SPLIT_CHARS = 16 * 1024;

/**
 * The CRD schema as compiled: every large subschema moved to `$defs` behind a
 * `$ref`, so ajv generates many small functions instead of one. A CRD schema is
 * fully inlined, and the ClusterPolicy validator as a single function made V8
 * use ~17 MiB of transient parser memory at its first call, which the
 * allocator then kept resident. Validation, defaults and errors are unchanged
 * (only an error's schemaPath names the $defs entry).
 */
export function schemaToCompile(schemaText: string): object {
  const root = JSON.parse(schemaText) as Record<string, unknown>;
  const defs: Record<string, unknown> = {};
  // Bottom-up: a subschema is measured after its own large parts were moved out.
  const visit = (node: unknown): unknown => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' || key === 'patternProperties') {
        out[key] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, sub]) => [name, split(sub)]));
      } else if (key === 'items' || key === 'additionalProperties' || key === 'not') {
        out[key] = Array.isArray(value) ? value.map(split) : split(value);
      } else if (key === 'allOf' || key === 'anyOf' || key === 'oneOf') {
        out[key] = (value as unknown[]).map(split);
      } else {
        out[key] = value;
      }
    }
    return out;
  };
  const split = (sub: unknown): unknown => {
    const compiled = visit(sub);
    if (compiled === null || typeof compiled !== 'object' || JSON.stringify(compiled).length <= SPLIT_CHARS) return compiled;
    const name = `s${Object.keys(defs).length}`;
    defs[name] = compiled;
    return { $ref: `#/$defs/${name}` };
  };
  const out = visit(root) as Record<string, unknown>;
  return Object.keys(defs).length === 0 ? out : { ...out, $defs: defs };
}

function validatorFor(apiVersion: string, kind: string): ValidateFunction | null {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  const key = `${group}_${version}_${kind}`;
  let v = validators.get(key);
  if (v !== undefined) return v;
  const file = `${schemaDir}${key}.json`;
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    v = precompiled(key, text) ?? ajv.compile(schemaToCompile(text));
  } else {
    v = null;
  }
  validators.set(key, v);
  return v;
}

function precompiled(key: string, schemaText: string): ValidateFunction | undefined {
  if (manifest === undefined) {
    const file = join(precompiledDir, 'manifest.json');
    manifest = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as Record<string, string> : null;
  }
  if (!manifest || manifest[key] !== schemaFingerprint(schemaText)) return undefined;
  return loadModule(join(precompiledDir, `${key}.cjs`)) as ValidateFunction;
}

/**
 * Evaluates a generated CommonJS module outside Node's module cache, so that
 * releaseSchemaValidators() can free it: a ClusterPolicy validator is 1.6 MB of
 * source plus ~2 MiB of bytecode, which `require` would keep for the process's life.
 */
function loadModule(file: string): unknown {
  const module = { exports: {} as unknown };
  const body = compileFunction(readFileSync(file, 'utf8'), ['module', 'exports', 'require'], { filename: file });
  body(module, module.exports, createRequire(file));
  return module.exports;
}

/** Use the precompiled validators in `dir` (tests; a missing directory means none). */
export function usePrecompiledValidators(dir: string): void {
  precompiledDir = dir;
  manifest = undefined;
  validators.clear();
}

export interface SchemaProblem {
  /** JSON pointer of the offending field. */
  path: string;
  reason: string;
}

/**
 * Drop the compiled validators. A compiled CRD schema holds tens of MiB of
 * generated code (a precompiled one a few MiB); a long-running server releases
 * them after each (re)load and loads them again (~0.3 s to compile, ~50 ms
 * precompiled) on the next one, while batch runs keep the cache.
 */
export function releaseSchemaValidators(): void {
  validators.clear();
  ajv = makeAjv();
}

/** True when a CRD schema exists for this apiVersion/kind. */
export function hasSchema(apiVersion: string, kind: string): boolean {
  return validatorFor(apiVersion, kind) !== null;
}

/**
 * Check (and default, in place) a document. Returns undefined when valid or when
 * no schema is known for the kind.
 */
export function checkSchema(doc: { apiVersion?: unknown; kind?: unknown }): SchemaProblem | undefined {
  if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') return undefined;
  const validate = validatorFor(doc.apiVersion, doc.kind);
  if (!validate || validate(doc)) return undefined;
  return describe(validate.errors?.[0]);
}

function describe(e: ErrorObject | undefined): SchemaProblem {
  if (!e) return { path: '', reason: 'invalid document' };
  let path = e.instancePath;
  let reason = e.message ?? 'invalid';
  if (e.keyword === 'required') {
    path = `${path}/${(e.params as { missingProperty: string }).missingProperty}`;
    reason = 'required field is missing';
  } else if (e.keyword === 'enum') {
    reason = `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  }
  return { path: path || '/', reason };
}
