/**
 * Rule `context` entries: variable, configMap, apiCall, imageRegistry and
 * globalReference, loaded into the JSON context before preconditions. The
 * outside world is reached only through the ContextResolver, so the CLI can
 * answer from Test-file values offline and the server from the cluster.
 */
import type { ContextResolver, JsonObject, JsonValue } from './types.ts';
import { substituteVariables, evaluateJMESPath, type ContextData } from './variables.ts';

export class ContextLoadError extends Error {}

function project(value: JsonValue, jmesPath: unknown, data: ContextData): JsonValue {
  if (typeof jmesPath !== 'string' || jmesPath === '') return value;
  const expr = substituteVariables(jmesPath, data);
  return evaluateJMESPath(String(expr), value);
}

async function loadEntry(entry: JsonObject, data: ContextData, resolver: ContextResolver | undefined): Promise<JsonValue> {
  const name = String(entry.name);
  if (entry.variable !== undefined) {
    const v = (entry.variable ?? {}) as JsonObject;
    let result: JsonValue = null;
    try {
      if (v.value !== undefined) {
        result = substituteVariables(v.value, data);
        if (v.jmesPath) result = project(result, v.jmesPath, data);
      } else if (v.jmesPath) {
        result = evaluateJMESPath(String(substituteVariables(v.jmesPath as string, data)), data as JsonValue);
      }
    } catch (err) {
      if (v.default === undefined) throw err;
      result = null;
    }
    if ((result === null || result === undefined) && v.default !== undefined) result = substituteVariables(v.default, data);
    if (result === null || result === undefined) {
      if (v.value === undefined && !v.jmesPath) throw new ContextLoadError(`variable ${name} has no value`);
    }
    return result ?? null;
  }
  if (entry.configMap !== undefined) {
    const cm = substituteVariables(entry.configMap, data) as JsonObject;
    if (!resolver?.configMap) throw new ContextLoadError(`configMap ${String(cm.namespace)}/${String(cm.name)} cannot be resolved here`);
    const obj = await resolver.configMap(String(cm.namespace ?? ''), String(cm.name ?? ''));
    if (!obj) throw new ContextLoadError(`failed to get configmap ${String(cm.namespace)}/${String(cm.name)}: not found`);
    return obj as unknown as JsonValue;
  }
  if (entry.apiCall !== undefined) {
    const call = entry.apiCall as JsonObject;
    const req = substituteVariables({ urlPath: call.urlPath ?? null, method: call.method ?? 'GET', data: call.data ?? null, service: call.service ?? null }, data) as JsonObject;
    try {
      if (!resolver?.apiCall) throw new ContextLoadError(`apiCall ${String(req.urlPath ?? '')} cannot be resolved here`);
      const result = await resolver.apiCall({ urlPath: req.urlPath as string | undefined, method: req.method as string, data: req.data, service: req.service });
      return project(result, call.jmesPath, data);
    } catch (err) {
      if (call.default !== undefined) return substituteVariables(call.default, data);
      throw err;
    }
  }
  if (entry.imageRegistry !== undefined) {
    const ir = entry.imageRegistry as JsonObject;
    const ref = String(substituteVariables(ir.reference ?? '', data));
    if (!resolver?.imageData) throw new ContextLoadError(`imageRegistry ${ref} cannot be resolved here`);
    return project(await resolver.imageData(ref), ir.jmesPath, data);
  }
  if (entry.globalReference !== undefined) {
    const g = entry.globalReference as JsonObject;
    if (!resolver?.globalContext) throw new ContextLoadError(`global context entry ${String(g.name)} cannot be resolved here`);
    return project(await resolver.globalContext(String(g.name)), g.jmesPath, data);
  }
  throw new ContextLoadError(`context entry ${name} has no known source`);
}

/** Load entries in order (later entries may use earlier ones); pinned names keep the caller's value. */
export async function loadContextEntries(
  entries: readonly JsonObject[], data: ContextData, resolver: ContextResolver | undefined, pinned?: ReadonlySet<string>,
): Promise<void> {
  for (const entry of entries) {
    const name = String(entry.name ?? '');
    if (pinned?.has(name)) continue;
    data[name] = await loadEntry(entry, data, resolver);
  }
}
