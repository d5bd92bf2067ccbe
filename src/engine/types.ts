/**
 * Shared vocabulary of the engine. Kept free of HTTP and of policy parsing so
 * every layer (CLI, server, tests) speaks the same words Kyverno users read in
 * reports: a policy is matched, its rules are handled, each handler returns a
 * RuleResponse with a status, message and (for failures) a path.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: JsonValue | undefined;
  };
  [key: string]: JsonValue | undefined | KubeObject['metadata'];
}

export type RuleStatus = 'pass' | 'fail' | 'warn' | 'error' | 'skip';
/** `Deletion`: a DeletingPolicy's offline verdict (Kyverno's engineapi.Deletion). */
export type RuleType = 'Validation' | 'Mutation' | 'ImageVerify' | 'Generation' | 'Deletion';
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** RFC 6902 operation, as produced by fast-json-patch. */
export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: JsonValue;
  from?: string;
}

export interface RuleResponse {
  /** Rule name as users see it, including `autogen-` prefixes. */
  name: string;
  type: RuleType;
  status: RuleStatus;
  message: string;
  /** JSON path of the first failing field, for fail results. */
  path?: string;
  /** Mutation rules: the patches this rule applied. */
  patches?: PatchOperation[];
  /** Generate rules: the resources the rule would create (offline evaluation). */
  generatedResources?: KubeObject[];
  /**
   * Mutate-existing rules (`mutate.targets`, offline evaluation): the existing target this
   * response is about, as the rule would patch it (Kyverno's RuleResponse.PatchedTarget; pass only).
   */
  patchedTarget?: KubeObject;
  /** Set when a PolicyException turned this rule into a skip. */
  exception?: string;
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** What is admitted: the engine's view of an AdmissionRequest (or an offline resource). */
export interface AdmissionInput {
  operation: Operation;
  /** The new object (null on DELETE). */
  object: KubeObject | null;
  /** The old object (UPDATE/DELETE), else null. */
  oldObject: KubeObject | null;
  /** group/version/kind of the object as the apiserver states it. */
  kind: { group: string; version: string; kind: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  dryRun?: boolean;
  userInfo: UserInfo;
  /** RBAC roles of the requester, as `namespace:name`. */
  roles: string[];
  clusterRoles: string[];
  /** Labels of the object's namespace (namespaceSelector), when known. */
  namespaceLabels?: Record<string, string>;
  /** The object's whole Namespace (CEL `namespaceObject`), when known. */
  namespaceObject?: KubeObject;
  /** Kyverno's `request.*` extra fields a caller may supply verbatim (uid, etc.). */
  requestExtras?: JsonObject;
}

/** An outbound HTTP request from CEL's http.Get / http.Post. */
export interface CelHttpCall {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** POST: the request body, sent as JSON. */
  body?: JsonValue;
}

/**
 * Answers the context entries that need the outside world. The CLI answers from
 * Test-file values offline; the server will answer from the cluster. Every method
 * may throw; the engine turns a throw into an `error` rule result.
 */
export interface ContextResolver {
  configMap?(namespace: string, name: string): Promise<KubeObject | undefined> | KubeObject | undefined;
  apiCall?(call: { urlPath?: string; method?: string; data?: JsonValue; service?: JsonValue }): Promise<JsonValue> | JsonValue;
  imageData?(reference: string): Promise<JsonValue> | JsonValue;
  globalContext?(name: string, projection?: string): Promise<JsonValue> | JsonValue;
  /** Data behind CEL's resource.* / image.* lookups (CLI: the Test's context file). */
  celLookups?: { resources: KubeObject[]; images: Array<{ image: string; [key: string]: JsonValue }> };
  /**
   * Server: a GET on the API server (`/api/v1/...`, `/apis/G/V/...`); undefined when
   * the object does not exist (404). CEL's resource.Get/List use it (else apiCall).
   */
  kubeGet?(path: string): Promise<JsonValue | undefined>;
  /** CEL http.Get / http.Post: the decoded JSON response (server: only URLs the operator allows). */
  httpCall?(call: CelHttpCall): Promise<JsonValue>;
  /** Source of a generate rule's `clone` (CLI: the Test's cloneSourceResource). */
  cloneSource?(kind: string, namespace: string, name: string): Promise<KubeObject | undefined> | KubeObject | undefined;
  /** Sources of a generate rule's `cloneList`: the objects of `namespace` (CLI: the cloneSourceResource files). */
  cloneSources?(namespace: string): Promise<KubeObject[]> | KubeObject[];
  /**
   * Candidates for a mutate-existing rule's `mutate.targets` entry: the existing objects of
   * `kind` (`apiVersion` `group/version` or `version`; either may hold wildcards, '' = any), in
   * every namespace; the engine narrows them by namespace, name and selector (CLI: the Test's
   * targetResources). Offline only: the webhook never mutates existing resources.
   */
  targetResources?(apiVersion: string, kind: string): Promise<KubeObject[]> | KubeObject[];
}
