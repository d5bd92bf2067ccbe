/**
 * generate handler, for offline evaluation (`portcullis test`/`apply`): renders
 * the resources a generate rule would create — from `data`, or copies of its
 * `clone` source or of the `cloneList` sources (fetched through the
 * ContextResolver) — with variables substituted.
 * The webhook does not create resources; it reports generate rules as skipped.
 */
import type { JsonObject, JsonValue, KubeObject } from '../types.ts';
import type { HandlerResult, RuleEnv, RuleHandler } from './types.ts';
import { substituteVariables } from '../variables.ts';
import { elementVariables } from './validate.ts';
import { evaluateJMESPath } from '../variables.ts';
import { compileLabelSelector } from '../match.ts';

function render(spec: JsonObject, env: RuleEnv, data: Record<string, JsonValue>): KubeObject | undefined {
  const head = substituteVariables({
    apiVersion: spec.apiVersion ?? null, kind: spec.kind ?? null, name: spec.name ?? null, namespace: spec.namespace ?? null,
  }, data) as JsonObject;
  if (spec.data === undefined) return undefined;
  const body = structuredClone(substituteVariables(spec.data, data)) as JsonObject;
  const meta = (body.metadata && typeof body.metadata === 'object' ? body.metadata : {}) as JsonObject;
  const out: KubeObject = {
    apiVersion: String(head.apiVersion ?? ''),
    kind: String(head.kind ?? ''),
    ...body,
    metadata: { ...meta, name: String(head.name ?? '') },
  };
  if (head.namespace) out.metadata!.namespace = String(head.namespace);
  void env;
  return out;
}

/** A copy of a clone source as the generated resource: named, in the target namespace, without server-set fields. */
function cloneOf(src: KubeObject, name: string, namespace: JsonValue | undefined): KubeObject {
  const copy = structuredClone(src);
  const meta = { ...(copy.metadata ?? {}) } as NonNullable<KubeObject['metadata']>;
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'ownerReferences', 'generation', 'selfLink']) delete meta[k];
  meta.name = name;
  if (namespace) meta.namespace = String(namespace);
  copy.metadata = meta;
  return copy;
}

/** A cloneList `kinds` entry: `Kind`, `version/Kind` or `group/version/Kind`. */
function kindMatcher(entry: string): (o: KubeObject) => boolean {
  const slash = entry.lastIndexOf('/');
  if (slash < 0) return (o) => o.kind === entry;
  const kind = entry.slice(slash + 1);
  const apiVersion = entry.slice(0, slash);
  return (o) => o.kind === kind && o.apiVersion === apiVersion;
}

export function compileGenerateHandler(ruleName: string, generate: JsonObject): RuleHandler {
  void ruleName;
  return async (env): Promise<HandlerResult> => {
    try {
      const generated: KubeObject[] = [];
      if (Array.isArray(generate.foreach)) {
        for (const fe of generate.foreach as JsonObject[]) {
          const list = evaluateJMESPath(String(substituteVariables(fe.list ?? '', env.data)), env.data as JsonValue);
          if (!Array.isArray(list)) continue;
          list.forEach((element, i) => {
            const r = render(fe, env, elementVariables(env.data, element, i, 0));
            if (r) generated.push(r);
          });
        }
      } else if (generate.cloneList !== undefined) {
        const list = substituteVariables(generate.cloneList as JsonValue, env.data) as JsonObject;
        const head = substituteVariables({ namespace: generate.namespace ?? null }, env.data) as JsonObject;
        const sources = env.resolver?.cloneSources ? await env.resolver.cloneSources(String(list.namespace ?? '')) : [];
        const kinds = (Array.isArray(list.kinds) ? list.kinds : []).map((k) => kindMatcher(String(k)));
        const selected = list.selector && typeof list.selector === 'object' && !Array.isArray(list.selector)
          ? compileLabelSelector(list.selector) : () => true;
        for (const src of sources) {
          if (!kinds.some((m) => m(src)) || !selected(src.metadata?.labels)) continue;
          generated.push(cloneOf(src, String(src.metadata?.name ?? ''), head.namespace));
        }
      } else if (generate.clone !== undefined) {
        const clone = substituteVariables((generate.clone ?? {}) as JsonValue, env.data) as JsonObject;
        const src = env.resolver?.cloneSource
          ? await env.resolver.cloneSource(String(generate.kind ?? ''), String(clone.namespace ?? ''), String(clone.name ?? ''))
          : undefined;
        if (!src) return { status: 'error', message: `failed to get the clone source ${String(clone.namespace)}/${String(clone.name)}` };
        const head = substituteVariables({ name: generate.name ?? null, namespace: generate.namespace ?? null }, env.data) as JsonObject;
        generated.push(cloneOf(src, String(head.name ?? src.metadata?.name ?? ''), head.namespace));
      } else {
        const r = render(generate, env, env.data);
        if (r) generated.push(r);
      }
      if (generated.length === 0) return { status: 'skip', message: 'no resource generated' };
      return { status: 'pass', message: 'created resource', generatedResources: generated };
    } catch (err) {
      return { status: 'error', message: `failed to generate resource: ${(err as Error).message}` };
    }
  };
}
