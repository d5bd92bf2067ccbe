/**
 * Registry credentials from a Pod's `imagePullSecrets` (and Kyverno's
 * `imageRegistryCredentials.secrets`), read through the Kubernetes API and
 * cached briefly so that admissions do not each hit the API server.
 */
import type { KubeObject } from '../../engine/types.ts';
import { credentialsFromSecrets, credentialStore, type Credential, type CredentialStore } from './credentials.ts';

/** Reads one Secret; undefined when it does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<KubeObject | undefined>;

/** Names listed in `spec.imagePullSecrets` of a Pod or in a pod template. */
export function pullSecretNames(resource: KubeObject | null | undefined): string[] {
  const spec = podSpec(resource);
  const list = spec?.imagePullSecrets;
  if (!Array.isArray(list)) return [];
  return list.map((s) => (s && typeof s === 'object' && !Array.isArray(s) ? s.name : undefined))
    .filter((n): n is string => typeof n === 'string' && n !== '');
}

type Obj = Record<string, unknown>;
function podSpec(resource: KubeObject | null | undefined): Obj | undefined {
  const spec = resource?.spec as Obj | undefined;
  if (!spec) return undefined;
  if (resource?.kind === 'CronJob') return ((((spec.jobTemplate as Obj)?.spec as Obj)?.template as Obj)?.spec as Obj) ?? undefined;
  if (resource?.kind === 'Pod') return spec;
  return ((spec.template as Obj)?.spec as Obj) ?? undefined;
}

/**
 * Credential store from the named secrets in `namespace`; missing secrets are
 * skipped (the kubelet does the same), unreadable ones raise an error.
 */
export async function credentialsFromSecretNames(namespace: string, names: readonly string[], read: SecretReader): Promise<Map<string, Credential>> {
  const secrets = await Promise.all(names.map((n) => read(namespace, n)));
  return credentialsFromSecrets(secrets.filter((s): s is KubeObject => s !== undefined));
}

/** Wrap a reader with a small TTL cache (default 30 s). */
export function cachedSecretReader(read: SecretReader, ttlMs = 30_000, max = 500): SecretReader {
  const cache = new Map<string, { at: number; value: Promise<KubeObject | undefined> }>();
  return (namespace, name) => {
    const key = `${namespace}/${name}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value;
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    const value = read(namespace, name);
    cache.set(key, { at: now, value });
    value.catch(() => cache.delete(key));
    return value;
  };
}

/** Credentials for one admitted Pod: its pull secrets first, then the fallback store (e.g. docker config.json). */
export async function podCredentialStore(resource: KubeObject, namespace: string, read: SecretReader,
  fallback?: CredentialStore): Promise<CredentialStore> {
  const names = pullSecretNames(resource);
  const fromSecrets = names.length > 0 ? await credentialsFromSecretNames(namespace, names, read) : new Map();
  const own = credentialStore(fromSecrets);
  return (host) => own(host) ?? fallback?.(host);
}

export interface KubernetesSecretReaderOptions {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string;
}

/**
 * A SecretReader over the Kubernetes API (in-cluster or kubeconfig, src/kube).
 * Connected lazily so that offline use (CLI, tests) needs no cluster.
 */
export async function kubernetesSecretReader(options: KubernetesSecretReaderOptions = {}): Promise<SecretReader> {
  const { kubeTransport } = await import('../../kube/transport.ts');
  const kube = await kubeTransport(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {});
  return async (namespace, name) => {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
    let res;
    try {
      res = await kube({ method: 'GET', path });
    } catch (e) {
      throw new Error(`cannot read secret ${namespace}/${name}: ${(e as Error).message}`);
    }
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`cannot read secret ${namespace}/${name}: HTTP ${res.status}`);
    return JSON.parse(res.body.toString('utf8')) as KubeObject;
  };
}
