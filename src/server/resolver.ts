/**
 * The server's ContextResolver: answers rule `context` entries from the
 * outside world.
 *  - imageRegistry → src/images fetchImageData over one shared RegistryClient
 *    (docker config credentials, custom CA), the same client verifyImages uses;
 *  - configMap / apiCall (urlPath) → the Kubernetes API server through
 *    src/kube (kubeconfig file or in-cluster service account),
 *    behind a small TTL cache with single-flight, so admissions do not each
 *    hit the API server.
 *  - CEL resource.Get/List → `kubeGet` (the same cached GETs); CEL http.* →
 *    `httpCall`, refused unless the operator allowed URL prefixes.
 * Without a cluster, configMap/apiCall throw a clear error: the engine reports
 * the rule as `error` and the policy's failurePolicy decides.
 */
import { readFile } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import type { CelHttpCall, ContextResolver, JsonObject, JsonValue, KubeObject } from '../engine/types.ts';
import { httpCaller, type CelHttpOptions } from './cel-http.ts';
import { RegistryClient, credentialStore, fetchImageData, loadDockerConfigFile } from '../images/index.ts';
import { isSafeApiPath, kubeTransport, type KubeResponse, type KubeTransport } from '../kube/transport.ts';

export type { KubeRequest, KubeResponse, KubeTransport } from '../kube/transport.ts';

export interface ServerResolverOptions {
  /** Registry client for imageRegistry entries (default: anonymous client). */
  registry?: RegistryClient;
  /** API server access; undefined = no cluster (configMap/apiCall throw). */
  kube?: KubeTransport;
  /** Cache lifetime of configMap / GET apiCall / imageRegistry answers (default 30 s; 0 disables). */
  cacheTtlMs?: number;
  /** Most cached answers per kind (default 500). */
  cacheMax?: number;
  /**
   * CEL http.Get / http.Post: the URL prefixes policies may reach (with timeout and
   * size limit). Without it, or with no prefixes, every such call is refused.
   */
  celHttp?: CelHttpOptions;
}

const NO_CLUSTER = 'no Kubernetes cluster configured (run in a cluster or pass --kubeconfig)';

type Loader<T> = (key: string) => Promise<T>;

/** TTL + single-flight cache: concurrent misses share one promise; failures are not kept. */
function cached<T extends {}>(load: Loader<T>, ttlMs: number, max: number): Loader<T> {
  if (ttlMs <= 0) return load;
  const cache = new LRUCache<string, Promise<T>>({ max, ttl: ttlMs });
  return (key) => {
    const hit = cache.get(key);
    if (hit) return hit;
    const p = load(key);
    cache.set(key, p);
    p.catch(() => { if (cache.get(key) === p) cache.delete(key); });
    return p;
  };
}

/** Kyverno's wording: `failed to GET resource with raw url: <path>: <apiserver Status message>`. */
function apiError(method: string, path: string, res: KubeResponse): Error {
  let reason = `HTTP ${res.status}`;
  try {
    const status = JSON.parse(res.body.toString('utf8')) as { message?: string };
    if (typeof status.message === 'string' && status.message) reason = status.message;
  } catch { /* not a Status object */ }
  // Kyverno names RBAC refusals explicitly so they are not mistaken for policy errors.
  const denied = res.status === 401 || res.status === 403 ? 'permission denied: ' : '';
  return new Error(`failed to ${method} resource with raw url: ${path}: ${denied}${reason}`);
}

function parseJson(path: string, body: Buffer): JsonValue {
  try {
    return JSON.parse(body.toString('utf8')) as JsonValue;
  } catch {
    throw new Error(`failed to decode the response of ${path}: invalid JSON`);
  }
}

/** Kyverno's apiCall `data` is a list of {key, value}; it becomes the JSON body. */
function requestBody(data: JsonValue | undefined): JsonValue | undefined {
  if (data === undefined || data === null) return undefined;
  if (!Array.isArray(data)) return data;
  const body: JsonObject = {};
  for (const item of data) {
    if (item && typeof item === 'object' && !Array.isArray(item) && typeof item.key === 'string') body[item.key] = item.value ?? null;
  }
  return body;
}

/** API paths are relative to the server: reject anything that could leave it. */
function checkPath(path: string): string {
  if (!isSafeApiPath(path)) {
    throw new Error(`invalid apiCall urlPath ${JSON.stringify(path)}: must be an absolute API server path`);
  }
  return path;
}

// Kubernetes object names: DNS subdomain (configmaps) / label (namespaces).
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export class ServerResolver implements ContextResolver {
  readonly registry: RegistryClient;
  readonly #kube: KubeTransport | undefined;
  readonly #get: Loader<JsonValue | undefined>;
  readonly #image: Loader<JsonObject>;
  readonly #http: (call: CelHttpCall) => Promise<JsonValue>;

  constructor(options: ServerResolverOptions = {}) {
    this.registry = options.registry ?? new RegistryClient();
    this.#kube = options.kube;
    // Built (and its prefixes checked) up front, so a bad allow list stops the server at start.
    this.#http = httpCaller(options.celHttp ?? { allow: [] });
    const ttl = options.cacheTtlMs ?? 30_000;
    const max = options.cacheMax ?? 500;
    // GET answers are cached by path; 404 is cached as "absent" (undefined is wrapped in a box).
    const get = cached(async (path: string) => ({ value: await this.#request('GET', path) }), ttl, max);
    this.#get = async (path) => (await get(path)).value;
    this.#image = cached((ref: string) => fetchImageData(ref, this.registry), ttl, max);
  }

  /** One API request; undefined for 404 on GET. */
  async #request(method: 'GET' | 'POST', path: string, body?: JsonValue): Promise<JsonValue | undefined> {
    if (!this.#kube) throw new Error(NO_CLUSTER);
    const res = await this.#kube({ method, path, ...(body !== undefined ? { body } : {}) });
    if (res.status === 404 && method === 'GET') return undefined;
    if (res.status < 200 || res.status >= 300) throw apiError(method, path, res);
    return parseJson(path, res.body);
  }

  async configMap(namespace: string, name: string): Promise<KubeObject | undefined> {
    if (!this.#kube) throw new Error(`cannot read configmap ${namespace}/${name}: ${NO_CLUSTER}`);
    if (!NAME.test(namespace) || !NAME.test(name)) throw new Error(`invalid configmap reference ${namespace}/${name}`);
    const obj = await this.#get(`/api/v1/namespaces/${namespace}/configmaps/${name}`);
    return obj === undefined ? undefined : (obj as KubeObject);
  }

  async apiCall(call: { urlPath?: string; method?: string; data?: JsonValue; service?: JsonValue }): Promise<JsonValue> {
    // Service calls reach arbitrary URLs (Kyverno needed an SSRF fix with URL allow/block lists): not offered.
    if (call.service !== undefined && call.service !== null) throw new Error('apiCall.service is not supported by this server; use urlPath');
    const path = checkPath(String(call.urlPath ?? ''));
    if (!this.#kube) throw new Error(`cannot call ${path}: ${NO_CLUSTER}`);
    const method = (call.method ?? 'GET').toUpperCase();
    if (method === 'GET') {
      const value = await this.#get(path);
      if (value === undefined) throw new Error(`failed to GET resource with raw url: ${path}: the server could not find the requested resource`);
      return value;
    }
    if (method !== 'POST') throw new Error(`apiCall method ${method} is not supported (GET or POST)`);
    // POST (e.g. SubjectAccessReview) is answered fresh: its body varies per request.
    const value = await this.#request('POST', path, requestBody(call.data));
    return value ?? null;
  }

  imageData(reference: string): Promise<JsonValue> {
    return this.#image(reference);
  }

  /** CEL resource.Get/List: a cached GET on the API server; undefined when absent (404). */
  async kubeGet(path: string): Promise<JsonValue | undefined> {
    checkPath(path);
    if (!this.#kube) throw new Error(`cannot read ${path}: ${NO_CLUSTER}`);
    return this.#get(path);
  }

  /** CEL http.Get / http.Post, limited to the operator's allowed URL prefixes (none by default). */
  httpCall(call: CelHttpCall): Promise<JsonValue> {
    return this.#http(call);
  }

  /** Whether configMap / apiCall / secretKey can reach an API server. */
  get hasCluster(): boolean {
    return this.#kube !== undefined;
  }

  /** verifyImages `keys.secret`: the PEM in the Secret's `cosign.pub` (cosign's key for k8s:// references). */
  async secretKey(ref: { namespace: string; name: string }): Promise<string> {
    if (!this.#kube) throw new Error(NO_CLUSTER);
    if (!NAME.test(ref.namespace) || !NAME.test(ref.name)) throw new Error('invalid secret reference');
    const secret = await this.#get(`/api/v1/namespaces/${ref.namespace}/secrets/${ref.name}`) as { data?: Record<string, string> } | undefined;
    if (!secret) throw new Error('secret not found');
    const pem = secret.data?.['cosign.pub'];
    if (typeof pem !== 'string' || pem === '') throw new Error('secret has no cosign.pub key');
    return Buffer.from(pem, 'base64').toString('utf8');
  }
}

export interface RegistryFiles {
  /** docker config.json with registry credentials (default `$DOCKER_CONFIG/config.json` when DOCKER_CONFIG is set). */
  configFile?: string;
  /** Extra CA certificates (PEM) for registries. */
  caFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** The shared RegistryClient: docker config credentials and a custom CA. */
export async function registryClientFromFiles(files: RegistryFiles = {}): Promise<RegistryClient> {
  const env = files.env ?? process.env;
  const configFile = files.configFile ?? (env.DOCKER_CONFIG ? `${env.DOCKER_CONFIG}/config.json` : undefined);
  const credentials = configFile ? credentialStore(await loadDockerConfigFile(configFile)) : undefined;
  let ca: string | undefined;
  if (files.caFile) {
    try {
      ca = await readFile(files.caFile, 'utf8');
    } catch (e) {
      throw new Error(`cannot read registry CA ${files.caFile}: ${(e as Error).message}`);
    }
  }
  return new RegistryClient({ ...(credentials ? { credentials } : {}), ...(ca ? { ca } : {}) });
}

export interface ServerContextOptions extends RegistryFiles {
  /** Kubeconfig file; without it a cluster is used only when KUBERNETES_SERVICE_HOST is set (in-cluster). */
  kubeconfig?: string;
  cacheTtlMs?: number;
  /** URL prefixes CEL http.Get / http.Post may reach (`serve --cel-http-allow`); none: refused. */
  celHttpAllow?: string[];
}

/** Build the resolver and registry client the server hands its Engine. */
export async function createServerResolver(options: ServerContextOptions = {}): Promise<ServerResolver> {
  const env = options.env ?? process.env;
  const registry = await registryClientFromFiles(options);
  const inCluster = !!env.KUBERNETES_SERVICE_HOST;
  const kube = options.kubeconfig || inCluster
    ? await kubeTransport(options.kubeconfig ? { kubeconfig: options.kubeconfig, env } : { env })
    : undefined;
  return new ServerResolver({
    registry,
    ...(kube ? { kube } : {}),
    ...(options.cacheTtlMs !== undefined ? { cacheTtlMs: options.cacheTtlMs } : {}),
    ...(options.celHttpAllow?.length ? { celHttp: { allow: options.celHttpAllow } } : {}),
  });
}
