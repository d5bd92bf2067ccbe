/**
 * generate handler, for offline evaluation (`portcullis test`/`apply`): renders
 * the resource a generate rule would create — from `data`, or from `clone`
 * (source fetched through the ContextResolver) — with variables substituted.
 * The webhook does not create resources; it reports generate rules as skipped.
 */
import type { JsonObject, JsonValue, KubeObject } from '../types.ts';
import type { HandlerResult, RuleEnv, RuleHandler } from './types.ts';
import { substituteVariables } from '../variables.ts';
import { elementVariables } from './validate.ts';
import { evaluateJMESPath } from '../variables.ts';

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
      } else if (generate.clone !== undefined || generate.cloneList !== undefined) {
        const clone = substituteVariables((generate.clone ?? {}) as JsonValue, env.data) as JsonObject;
        const src = env.resolver?.cloneSource
          ? await env.resolver.cloneSource(String(generate.kind ?? ''), String(clone.namespace ?? ''), String(clone.name ?? ''))
          : undefined;
        if (!src) return { status: 'error', message: `failed to get the clone source ${String(clone.namespace)}/${String(clone.name)}` };
        const head = substituteVariables({ name: generate.name ?? null, namespace: generate.namespace ?? null }, env.data) as JsonObject;
        const copy = structuredClone(src);
        const meta = { ...(copy.metadata ?? {}) } as NonNullable<KubeObject['metadata']>;
        for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'ownerReferences', 'generation', 'selfLink']) delete meta[k];
        meta.name = String(head.name ?? meta.name ?? '');
        if (head.namespace) meta.namespace = String(head.namespace);
        copy.metadata = meta;
        generated.push(copy);
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
