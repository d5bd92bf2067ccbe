/**
 * Load policy documents from YAML/JSON text or files: parse every document,
 * schema-check the Kyverno kinds against their CRD schemas, and report a broken
 * document with file, document index, line, JSON path and reason — the other
 * documents in the same load keep working.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { parseAllDocuments, LineCounter, type Document } from 'yaml';
import type { KubeObject, JsonObject } from '../engine/types.ts';
import type { LoadedPolicy, PolicyLoadError, PolicyKind } from './types.ts';
import { checkSchema } from './schema.ts';

export interface LoadResult {
  policies: LoadedPolicy[];
  errors: PolicyLoadError[];
  /** Non-policy documents found alongside (ignored by the engine, useful to the CLI). */
  others: KubeObject[];
  /** kyverno.io PolicyException documents (schema-checked), for src/engine/exceptions.ts. */
  exceptions: KubeObject[];
  /** policies.kyverno.io PolicyException documents, for the CEL policy kinds (compilePolicies' `exceptions`). */
  celExceptions: KubeObject[];
  /** Validating/MutatingAdmissionPolicyBinding documents (also listed in `others`), for compilePolicies' `bindings`. */
  bindings: KubeObject[];
}

const policyKinds = new Set<string>(['ClusterPolicy', 'Policy']);

export function isKyvernoPolicy(doc: unknown): doc is KubeObject & { kind: PolicyKind } {
  const d = doc as KubeObject | null;
  return !!d && typeof d === 'object' && typeof d.apiVersion === 'string' &&
    d.apiVersion.startsWith('kyverno.io/') && policyKinds.has(d.kind ?? '');
}

/** policies.kyverno.io kinds (ValidatingPolicy, MutatingPolicy, …); exceptions are not policies. */
export function isCelPolicy(doc: unknown): doc is KubeObject & { kind: PolicyKind } {
  const d = doc as KubeObject | null;
  return !!d && typeof d === 'object' && typeof d.apiVersion === 'string' &&
    d.apiVersion.startsWith('policies.kyverno.io/') && typeof d.kind === 'string' && d.kind.endsWith('Policy');
}

/** Kubernetes' own ValidatingAdmissionPolicy, evaluated offline as Kyverno's CLI does. */
export function isValidatingAdmissionPolicy(doc: unknown): doc is KubeObject & { kind: PolicyKind } {
  const d = doc as KubeObject | null;
  return !!d && typeof d === 'object' && typeof d.apiVersion === 'string' &&
    d.apiVersion.startsWith('admissionregistration.k8s.io/') && d.kind === 'ValidatingAdmissionPolicy';
}

/** Kubernetes' own MutatingAdmissionPolicy, evaluated offline as Kyverno's CLI does. */
export function isMutatingAdmissionPolicy(doc: unknown): doc is KubeObject & { kind: PolicyKind } {
  const d = doc as KubeObject | null;
  return !!d && typeof d === 'object' && typeof d.apiVersion === 'string' &&
    d.apiVersion.startsWith('admissionregistration.k8s.io/') && d.kind === 'MutatingAdmissionPolicy';
}

const bindingKinds = new Set(['ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicyBinding']);

export interface LoadOptions {
  /**
   * Load Kubernetes ValidatingAdmissionPolicy and MutatingAdmissionPolicy documents as policies (the CLI,
   * as Kyverno's does). Off by default: in a cluster the API server evaluates
   * them, so the webhook leaves them in `others`.
   */
  admissionPolicies?: boolean;
}

const emptyResult = (): LoadResult => ({ policies: [], errors: [], others: [], exceptions: [], celExceptions: [], bindings: [] });

/** Parse multi-document YAML; each document is schema-checked; bad ones become errors. */
export function parsePolicyText(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const out = emptyResult();
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false });
  if (!Array.isArray(docs)) return out; // empty stream
  docs.forEach((doc, index) => {
    const line = lines.linePos(doc.range[0]).line;
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      out.errors.push({ file, index, line: e.linePos?.[0]?.line ?? line, path: '', reason: `YAML: ${e.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      out.errors.push({ file, index, line, path: '', reason: `YAML: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      out.errors.push({ file, index, line, path: '', reason: 'document is not an object' });
      return;
    }
    const obj = value as KubeObject;
    if (obj.kind === 'List' && Array.isArray(obj.items)) {
      for (const item of obj.items as KubeObject[]) out.others.push(item);
      return;
    }
    if (obj.kind === 'PolicyException' && typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith('kyverno.io/')) {
      const problem = checkSchema(obj);
      if (problem) out.errors.push({ file, index, line: lineOf(doc, lines, problem.path) ?? line, path: problem.path, reason: problem.reason });
      else out.exceptions.push(obj);
      return;
    }
    if (obj.kind === 'PolicyException' && typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith('policies.kyverno.io/')) {
      const problem = checkSchema(obj);
      if (problem) out.errors.push({ file, index, line: lineOf(doc, lines, problem.path) ?? line, path: problem.path, reason: problem.reason });
      else out.celExceptions.push(obj);
      return;
    }
    if (bindingKinds.has(obj.kind ?? '') && typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith('admissionregistration.k8s.io/')) {
      out.bindings.push(obj);
      out.others.push(obj);
      return;
    }
    const cel = isCelPolicy(obj) || (options.admissionPolicies === true && (isValidatingAdmissionPolicy(obj) || isMutatingAdmissionPolicy(obj)));
    if (!cel && !isKyvernoPolicy(obj)) {
      out.others.push(obj);
      return;
    }
    const problem = checkSchema(obj) ?? (cel ? (obj.metadata?.name ? undefined : { path: '/metadata/name', reason: 'policy name is required' }) : checkStructure(obj));
    if (problem) {
      out.errors.push({ file, index, line: lineOf(doc, lines, problem.path) ?? line, path: problem.path, reason: problem.reason });
      return;
    }
    out.policies.push({
      kind: obj.kind as PolicyKind,
      name: obj.metadata?.name ?? '',
      namespace: obj.kind === 'Policy' || obj.kind!.startsWith('Namespaced') ? (obj.metadata?.namespace ?? 'default') : undefined,
      raw: obj as LoadedPolicy['raw'],
      source: { file, index, line },
    });
  });
  return out;
}

/** Checks the CRD schema cannot express (Kyverno's admission-time validation). */
function checkStructure(obj: KubeObject): { path: string; reason: string } | undefined {
  if (!obj.metadata?.name) return { path: '/metadata/name', reason: 'policy name is required' };
  const spec = obj.spec as JsonObject | undefined;
  if (!spec || typeof spec !== 'object') return { path: '/spec', reason: 'spec is required' };
  const rules = spec.rules as JsonObject[] | undefined;
  if (!Array.isArray(rules)) return undefined;
  const seen = new Set<string>();
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const name = String(rule.name ?? '');
    if (seen.has(name)) return { path: `/spec/rules/${i}/name`, reason: `duplicate rule name "${name}"` };
    seen.add(name);
    const kinds = ['validate', 'mutate', 'generate', 'verifyImages'].filter((k) => rule[k] !== undefined && rule[k] !== null);
    if (kinds.length === 0) return { path: `/spec/rules/${i}`, reason: 'rule must have one of validate, mutate, generate or verifyImages' };
    if (kinds.length > 1) return { path: `/spec/rules/${i}`, reason: `rule may have only one of ${kinds.join(', ')}` };
  }
  return undefined;
}

function lineOf(doc: Document, lines: LineCounter, pointer: string): number | undefined {
  const segments = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  // Walk up until a node exists (a missing field points at its parent).
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s)), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Load every .yaml/.yml/.json file (directories recursively, sorted) of the given paths. */
export async function loadPolicyPaths(paths: readonly string[], options: LoadOptions = {}): Promise<LoadResult> {
  const out = emptyResult();
  for (const p of paths) {
    for (const file of await listPolicyFiles(p)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        out.errors.push({ file, index: 0, line: 0, path: '', reason: `cannot read: ${(err as Error).message}` });
        continue;
      }
      mergeInto(out, parsePolicyText(text, file, options));
    }
  }
  return out;
}

/** Add one load's results to another (files, ConfigMap entries, …). */
export function mergeInto(out: LoadResult, r: LoadResult): LoadResult {
  out.policies.push(...r.policies);
  out.errors.push(...r.errors);
  out.others.push(...r.others);
  out.exceptions.push(...r.exceptions);
  out.celExceptions.push(...r.celExceptions);
  out.bindings.push(...r.bindings);
  return out;
}

export async function listPolicyFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const files: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // .kyverno-test, .git, …
    const full = join(path, e.name);
    if (e.isDirectory()) files.push(...await listPolicyFiles(full));
    else if (['.yaml', '.yml', '.json'].includes(extname(e.name))) files.push(full);
  }
  return files;
}

export function formatLoadError(e: PolicyLoadError): string {
  return `${e.file}:${e.line}: document ${e.index}${e.path ? ` at ${e.path}` : ''}: ${e.reason}`;
}
