/**
 * How the Kyverno CLI turns a resource file entry into an admission request:
 * CREATE unless a Test row gives the resource a `resourceOperation` or the
 * values set `request.operation` (UPDATE: the old object is
 * the resource's entry in the Test's `oldResources`, else the resource itself;
 * DELETE: no new object, the resource is the old one), user info from the
 * UserInfo file, namespace labels from the Values file, and subresource kinds
 * mapped to their parent from the Values `subresources`. Values that set
 * `request.object…` / `request.oldObject…` change the objects the policies see
 * (Kyverno reads them back from the context it put the values in).
 */
import type { AdmissionInput, JsonObject, JsonValue, KubeObject, Operation } from '../../engine/types.ts';
import { setVariable, type ContextData } from '../../engine/variables.ts';
import { groupOf, identityOf, versionOf } from '../resources.ts';
import type { RequestUserInfo, ValuesSpec } from './spec.ts';

export interface AdmissionOptions {
  variables: Record<string, JsonValue>;
  userInfo?: RequestUserInfo;
  values?: ValuesSpec;
  /** The resource's earlier version, from the Test's `oldResources`. */
  oldResource?: KubeObject;
  /** A Test row's `resourceOperation` for this resource: wins over `request.operation`. */
  operation?: Operation;
}

/** Operation requested through the `request.operation` variable (CREATE otherwise). */
export function operationFrom(variables: Record<string, JsonValue>): Operation {
  const op = variables['request.operation'];
  if (op === 'UPDATE' || op === 'DELETE' || op === 'CONNECT') return op;
  return 'CREATE';
}

export function buildAdmissionInput(resource: KubeObject, options: AdmissionOptions): AdmissionInput {
  const id = identityOf(resource);
  const operation = options.operation ?? operationFrom(options.variables);
  let kind = { group: groupOf(id.apiVersion), version: versionOf(id.apiVersion), kind: id.kind };
  let subResource: string | undefined;
  for (const s of options.values?.subresources ?? []) {
    const sub = s.subresource;
    if (sub.group === kind.group && sub.version === kind.version && sub.kind === kind.kind) {
      const parent = s.parentResource;
      kind = { group: parent.group, version: parent.version, kind: parent.kind };
      subResource = sub.name.split('/')[1];
    }
  }
  const input: AdmissionInput = {
    operation,
    object: operation === 'DELETE' ? null : resource,
    oldObject: operation === 'DELETE' ? structuredClone(resource)
      : operation === 'UPDATE' ? structuredClone(options.oldResource ?? resource) : null,
    kind,
    namespace: id.namespace,
    name: id.name,
    userInfo: options.userInfo ? { ...options.userInfo.userInfo } : {},
    roles: options.userInfo ? [...options.userInfo.roles] : [],
    clusterRoles: options.userInfo ? [...options.userInfo.clusterRoles] : [],
  };
  if (subResource !== undefined) input.subResource = subResource;
  const labels = options.values?.namespaceLabels.get(id.namespace);
  if (labels !== undefined) input.namespaceLabels = { ...labels };
  const nsObject = options.values?.namespaceObjects?.get(id.namespace);
  if (nsObject !== undefined) input.namespaceObject = nsObject as KubeObject;
  return input;
}

const OBJECT_KEYS = /^request\.(object|oldObject)(\.|$)/;

/**
 * The input with `request.object…` / `request.oldObject…` variables applied to
 * its objects (copied on the way, never edited in place); the input itself when
 * no variable names them.
 */
export function withInjectedObjects(input: AdmissionInput, variables: Record<string, JsonValue>): AdmissionInput {
  let data: ContextData | undefined;
  for (const [key, value] of Object.entries(variables)) {
    if (!OBJECT_KEYS.test(key)) continue;
    data ??= { request: { object: input.object as JsonValue, oldObject: input.oldObject as JsonValue } };
    setVariable(data, key, value);
  }
  if (!data) return input;
  const request = data.request as JsonObject;
  return { ...input, object: (request.object ?? null) as KubeObject | null, oldObject: (request.oldObject ?? null) as KubeObject | null };
}
