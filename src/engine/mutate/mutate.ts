/**
 * Kyverno mutate rules (pkg/engine/mutate + pkg/engine/handlers/mutation):
 * patchStrategicMerge, patchesJson6902 and (nested) foreach, compiled once per
 * policy. JMESPath, `{{ }}` substitution, preconditions and the validate pattern
 * matcher are injected (MutateDeps) so this module stays independent of them;
 * a foreach `preconditions` block is handed over as the same object on every
 * call, so its compiled form can be cached by identity.
 *
 * Results, as Kyverno reports them:
 *  - pass: "mutated <Kind>/<name> in namespace <ns>" ("mutated <Kind>/<name>" when
 *    cluster-scoped), with the RFC 6902 patch from the input to the output;
 *  - skip: "no patches applied" (nothing changed, e.g. a failed condition anchor);
 *    a foreach rule where no entry changed anything: "0 elements processed";
 *  - error: "variable substitution failed: …", "failed to patch resource: …",
 *    "failed to mutate elements: …", "empty mutate rule".
 */
import { diffPatch } from '../patch.ts';
import type { JsonObject, JsonValue, KubeObject, PatchOperation, RuleResponse } from '../types.ts';
import { extendContext, type ContextData } from '../variables.ts';
import { deepEqual, isMap } from './json.ts';
import { compilePatcher, SubstitutionError, type Patcher, type TemplateCompiler } from './patchers.ts';
import type { PatternMatcher } from './preprocess.ts';

export interface MutateDeps {
  /** Deep `{{ }}` substitution; throws when a variable cannot be resolved. */
  substitute(value: JsonValue, data: ContextData): JsonValue;
  /** Evaluates a foreach `list` JMESPath expression. */
  evaluate(expression: string, data: ContextData): JsonValue;
  /** Evaluates a foreach `preconditions` block (any/all); true when it passes. */
  preconditions(block: JsonValue, data: ContextData): boolean;
  /** Kyverno validate pattern matching, used for condition anchors. */
  matchPattern: PatternMatcher;
  /**
   * Loads a foreach `context` block into `data` (in place; a fresh object per element).
   * Required only if a foreach has one; may be async (API calls, ConfigMaps).
   */
  loadContext?(entries: JsonValue[], data: ContextData): void | Promise<void>;
  /** Caller values for foreach block `block`'s element `index`, set into its context (Kyverno CLI foreachValues). */
  elementValues?: ((data: ContextData, block: number, index: number) => void) | undefined;
}

export interface ForEachMutationSpec {
  list: string;
  order?: 'Ascending' | 'Descending';
  context?: JsonValue[];
  preconditions?: JsonValue;
  patchStrategicMerge?: JsonValue;
  patchesJson6902?: string;
  foreach?: ForEachMutationSpec[];
}

export interface MutateSpec {
  patchStrategicMerge?: JsonValue;
  patchesJson6902?: string;
  foreach?: ForEachMutationSpec[];
}

export interface MutationResult {
  status: 'pass' | 'skip' | 'error';
  message: string;
  /** The patched resource on pass; the input resource otherwise. */
  resource: KubeObject;
  /** RFC 6902 operations turning the input into the output (empty unless pass). */
  patches: PatchOperation[];
}

/** Synchronous for patchStrategicMerge/patchesJson6902; a Promise for foreach rules (context loading may be async). */
export type CompiledMutation = (resource: KubeObject, data: ContextData, deps: MutateDeps) => MutationResult | Promise<MutationResult>;

interface Response {
  status: 'pass' | 'skip' | 'error';
  resource: JsonObject;
  message: string;
}

interface CompiledForEach {
  list: string;
  reverse: boolean;
  context?: JsonValue[];
  preconditions?: JsonValue;
  patcher: Patcher | null;
  nested: CompiledForEach[] | null;
}

export interface CompileOptions {
  /** Compile `{{ }}` templates at policy load (variables.ts compileTemplate); default: deps.substitute per call. */
  compileTemplate?: TemplateCompiler;
}

export function compileMutation(spec: MutateSpec, options: CompileOptions = {}): CompiledMutation {
  const { compileTemplate } = options;
  if (Array.isArray(spec.foreach)) {
    const foreach = spec.foreach.map((fe, i) => compileForEach(fe, compileTemplate, `/mutate/foreach/${i}`));
    return (resource, data, deps) => {
      const r = drive(mutateForEach(foreach, asObj(resource), data, deps, 0));
      return r instanceof Promise ? r.then((resp) => finish(resource, resp)) : finish(resource, r);
    };
  }
  const patcher = compilePatcher(spec, compileTemplate);
  return (resource, data, deps) => finish(resource, applyPatcher(patcher, asObj(resource), data, deps));
}

function asObj(r: KubeObject): JsonObject {
  return r as unknown as JsonObject;
}

function compileForEach(fe: ForEachMutationSpec, compileTemplate: TemplateCompiler | undefined, path: string): CompiledForEach {
  // Kyverno walks strategic-merge foreach lists backwards unless `order` says otherwise
  // (kustomize prepends merged list items, so this keeps the resulting order natural).
  let reverse = fe.patchStrategicMerge !== undefined && fe.patchStrategicMerge !== null;
  if (fe.order !== undefined) reverse = fe.order === 'Descending';
  return {
    list: fe.list,
    reverse,
    context: fe.context,
    preconditions: fe.preconditions,
    patcher: compilePatcher(fe, compileTemplate, path),
    nested: Array.isArray(fe.foreach) ? fe.foreach.map((n, i) => compileForEach(n, compileTemplate, `${path}/foreach/${i}`)) : null,
  };
}

function errorResponse(message: string, cause?: unknown): Response {
  const detail = cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
  return { status: 'error', resource: {}, message: message + detail };
}

function applyPatcher(patcher: Patcher | null, resource: JsonObject, data: ContextData, deps: MutateDeps): Response {
  if (!patcher) return errorResponse('empty mutate rule');
  let patched: JsonObject;
  try {
    patched = patcher(resource, data, deps);
  } catch (e) {
    if (e instanceof SubstitutionError) return errorResponse('variable substitution failed', e);
    return errorResponse('failed to patch resource', e);
  }
  if (deepEqual(resource, patched)) return { status: 'skip', resource, message: 'no patches applied' };
  return { status: 'pass', resource: patched, message: 'resource patched' };
}

/** `request.object` follows the resource as foreach entries patch it. */
function withRequestObject(data: ContextData, resource: JsonObject): ContextData {
  const request = isMap(data.request) ? data.request : {};
  return extendContext(data, { request: { ...request, object: resource } });
}

/**
 * The foreach walk is a generator that yields the promises it must wait for
 * (context entries loaded through the resolver). `drive` runs it synchronously
 * until the first one, so a foreach without context costs no promise at all.
 */
type Walk<T> = Generator<Promise<unknown>, T, unknown>;

function drive<T>(walk: Walk<T>): T | Promise<T> {
  const first = walk.next();
  if (first.done) return first.value;
  return (async () => {
    let step = first;
    for (;;) {
      let value: unknown;
      let failed = false;
      let error: unknown;
      try {
        value = await step.value;
      } catch (err) {
        failed = true;
        error = err;
      }
      // A rejected wait is thrown into the walk where it waited (its own try/catch answers).
      const next = failed ? walk.throw(error) : walk.next(value);
      if (next.done) return next.value;
      step = next;
    }
  })();
}

function* mutateForEach(list: CompiledForEach[], resource: JsonObject, data: ContextData, deps: MutateDeps, nesting: number): Walk<Response> {
  let applied = 0;
  let current = resource;
  let currentData = data;
  for (let block = 0; block < list.length; block++) {
    const fe = list[block]!;
    let value: JsonValue;
    try {
      value = deps.evaluate(fe.list, currentData);
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e);
      return errorResponse(`failed to evaluate list ${fe.list}: ${m}`, e);
    }
    const elements = Array.isArray(value) ? value : [value];
    const resp = yield* mutateElements(fe, elements, current, currentData, deps, nesting, block);
    if (resp.status === 'error') return errorResponse('failed to mutate elements', resp.message);
    if (resp.status !== 'skip') {
      applied++;
      if (resp.status === 'pass') current = resp.resource;
      currentData = withRequestObject(currentData, current);
    }
  }
  const message = `${applied} elements processed`;
  return { status: applied === 0 ? 'skip' : 'pass', resource: current, message };
}

// `element0`, `elementIndex0`, … for the usual nesting depths, built once.
const elementKeys = Array.from({ length: 8 }, (_, i) => `element${i}`);
const indexKeys = Array.from({ length: 8 }, (_, i) => `elementIndex${i}`);

function* mutateElements(fe: CompiledForEach, elements: JsonValue[], resource: JsonObject, data: ContextData,
  deps: MutateDeps, nesting: number, block: number): Walk<Response> {
  let patched = resource;
  const elementKey = elementKeys[nesting] ?? `element${nesting}`;
  const indexKey = indexKeys[nesting] ?? `elementIndex${nesting}`;
  const loadsContext = fe.context !== undefined && fe.context.length > 0;
  const perElement = loadsContext || deps.elementValues !== undefined;
  // Without context entries or caller values nothing writes to the element context: one
  // object serves every element (anything written per element needs a fresh one each).
  let shared: ContextData | undefined;
  const n = elements.length;
  for (let step = 0; step < n; step++) {
    const index = fe.reverse ? n - 1 - step : step;
    const element = elements[index];
    if (element === null || element === undefined) continue;
    let elementData: ContextData;
    if (perElement || !shared) {
      elementData = extendContext(data, { element, [elementKey]: element, elementIndex: index, [indexKey]: index });
      if (!perElement) shared = elementData;
      else deps.elementValues?.(elementData, block, index);
    } else {
      elementData = shared;
      elementData.element = elementData[elementKey] = element;
      elementData.elementIndex = elementData[indexKey] = index;
    }
    if (loadsContext) {
      if (!deps.loadContext) return errorResponse(`failed to load to mutate.foreach[${index}].context`, 'no context loader');
      try {
        const loading = deps.loadContext(fe.context!, elementData);
        if (loading instanceof Promise) yield loading;
      } catch (e) {
        return errorResponse(`failed to load to mutate.foreach[${index}].context`, e);
      }
    }
    if (fe.preconditions !== undefined && fe.preconditions !== null) {
      let ok: boolean;
      try {
        ok = deps.preconditions(fe.preconditions, elementData);
      } catch (e) {
        return errorResponse(`failed to evaluate mutate.foreach[${index}].preconditions`, e);
      }
      if (!ok) continue;
    }
    const resp = fe.nested
      ? yield* mutateForEach(fe.nested, patched, elementData, deps, nesting + 1)
      : applyPatcher(fe.patcher, patched, elementData, deps);
    if (resp.status === 'error') return resp;
    if (resp.status === 'pass') patched = resp.resource;
  }
  if (deepEqual(resource, patched)) return { status: 'skip', resource: patched, message: 'no patches applied' };
  return { status: 'pass', resource: patched, message: '' };
}

function finish(input: KubeObject, resp: Response): MutationResult {
  if (resp.status !== 'pass') return { status: resp.status, message: resp.message, resource: input, patches: [] };
  const out = resp.resource as unknown as KubeObject;
  const patches = diffPatch(input, out);
  return { status: 'pass', message: successMessage(out), resource: out, patches };
}

export function successMessage(r: KubeObject): string {
  const kind = typeof r.kind === 'string' ? r.kind : '';
  const name = typeof r.metadata?.name === 'string' ? r.metadata.name : '';
  const ns = typeof r.metadata?.namespace === 'string' ? r.metadata.namespace : '';
  return ns === '' ? `mutated ${kind}/${name}` : `mutated ${kind}/${name} in namespace ${ns}`;
}

/** The RuleResponse for a mutate rule result. */
export function toRuleResponse(name: string, result: MutationResult): RuleResponse {
  const resp: RuleResponse = { name, type: 'Mutation', status: result.status, message: result.message };
  if (result.status === 'pass') resp.patches = result.patches;
  return resp;
}
