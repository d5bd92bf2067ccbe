/**
 * How to reach the Kubernetes API server: its URL plus TLS and credentials for
 * each request, from a kubeconfig file or the in-cluster service account.
 *
 * The common cases (in-cluster token, kubeconfig with token / token file /
 * client certificate / basic auth, CA file or data) are read here directly:
 * importing @kubernetes/client-node costs ~80 MiB of resident memory for its
 * generated API, which a webhook that only issues a few GETs should not carry.
 * Kubeconfigs whose user needs an `exec` plugin or an `auth-provider` are
 * handed to @kubernetes/client-node's KubeConfig, loaded only then.
 */
import { readFileSync, statSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type KubeRequestOptions = RequestOptions & { headers: Record<string, string> };

export interface KubeAccess {
  /** API server base URL (may carry a path prefix). */
  server: URL;
  /** Where the settings came from, for messages. */
  source: string;
  /** Adds TLS material and credentials to one request's options. */
  apply(opts: KubeRequestOptions): Promise<void>;
}

export interface KubeAccessOptions {
  /** A kubeconfig file; default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string;
  env?: NodeJS.ProcessEnv;
  /** Service account directory (tests). */
  serviceAccountDir?: string;
  /** Home directory holding .kube/config (tests). */
  home?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound service account tokens rotate; client-go re-reads the file about once a minute. */
const TOKEN_REREAD_MS = 60_000;

export async function loadKubeAccess(options: KubeAccessOptions = {}): Promise<KubeAccess> {
  const env = options.env ?? process.env;
  if (options.kubeconfig) return fromKubeconfigFile(options.kubeconfig);
  // The order of client-go and @kubernetes/client-node: $KUBECONFIG, ~/.kube/config, in-cluster.
  for (const file of (env.KUBECONFIG ?? '').split(':')) if (file !== '' && exists(file)) return fromKubeconfigFile(file);
  const home = resolvePath(options.home ?? homedir(), '.kube', 'config');
  if (exists(home)) return fromKubeconfigFile(home);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  throw new Error('no Kubernetes configuration: pass a kubeconfig, set KUBECONFIG, or run in a cluster');
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A file whose content is re-read at most every `ttlMs` (rotating tokens). */
function rereadingFile(file: string, what: string, ttlMs = TOKEN_REREAD_MS): () => string {
  let value = readText(file, what).trim();
  let readAt = Date.now();
  return () => {
    if (Date.now() - readAt >= ttlMs) {
      try {
        value = readText(file, what).trim();
      } catch {
        // Keep the last token: a transient read error must not break every request.
      }
      readAt = Date.now();
    }
    return value;
  };
}

function inCluster(env: NodeJS.ProcessEnv, dir: string): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  const ca = readText(`${dir}/ca.crt`, 'service account CA');
  const token = rereadingFile(`${dir}/token`, 'service account token');
  return {
    server,
    source: 'in-cluster service account',
    apply: async (opts) => {
      opts.ca = ca;
      opts.headers.authorization = `Bearer ${token()}`;
    },
  };
}

type Doc = Record<string, unknown>;
const asDoc = (v: unknown): Doc => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Doc : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function named(list: unknown, name: string | undefined, field: string, file: string): Doc {
  const entry = Array.isArray(list) ? list.map(asDoc).find((e) => e.name === name) : undefined;
  if (!entry) throw new Error(`kubeconfig ${file}: ${field} "${name ?? ''}" not found`);
  return asDoc(entry[field]);
}

function fromKubeconfigFile(file: string): Promise<KubeAccess> | KubeAccess {
  const text = readText(file, 'kubeconfig');
  let doc: Doc;
  try {
    doc = asDoc(parseYaml(text));
  } catch (e) {
    throw new Error(`kubeconfig ${file} is not valid YAML: ${(e as Error).message}`);
  }
  const contextName = str(doc['current-context']);
  if (!contextName) throw new Error(`kubeconfig ${file} has no current-context`);
  const context = named(doc.contexts, contextName, 'context', file);
  const cluster = named(doc.clusters, str(context.cluster), 'cluster', file);
  const user = str(context.user) ? named(doc.users, str(context.user), 'user', file) : {};
  if (user.exec || user['auth-provider']) return viaClientNode(file);

  const base = dirname(resolvePath(file));
  const pathOf = (p: string) => resolvePath(base, p);
  const dataOrFile = (data: unknown, path: unknown, what: string): string | undefined => {
    if (str(data)) return Buffer.from(str(data)!, 'base64').toString('utf8');
    if (str(path)) return readText(pathOf(str(path)!), what);
    return undefined;
  };
  const serverText = str(cluster.server);
  if (!serverText) throw new Error(`kubeconfig ${file}: cluster of context "${contextName}" has no server`);
  const server = new URL(serverText);
  const ca = dataOrFile(cluster['certificate-authority-data'], cluster['certificate-authority'], 'cluster CA');
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const serverName = str(cluster['tls-server-name']);
  const cert = dataOrFile(user['client-certificate-data'], user['client-certificate'], 'client certificate');
  const key = dataOrFile(user['client-key-data'], user['client-key'], 'client key');
  const tokenFile = str(user.tokenFile) ? rereadingFile(pathOf(str(user.tokenFile)!), 'token file') : undefined;
  const token = str(user.token);
  const basic = str(user.username) && str(user.password) ? Buffer.from(`${user.username}:${user.password}`).toString('base64') : undefined;
  return {
    server,
    source: `kubeconfig ${file}`,
    apply: async (opts) => {
      if (ca) opts.ca = ca;
      if (insecure) opts.rejectUnauthorized = false;
      if (serverName) opts.servername = serverName;
      if (cert && key) { opts.cert = cert; opts.key = key; }
      const bearer = tokenFile?.() ?? token;
      if (bearer) opts.headers.authorization = `Bearer ${bearer}`;
      else if (basic) opts.headers.authorization = `Basic ${basic}`;
    },
  };
}

/** exec plugins and auth providers: @kubernetes/client-node implements them. */
async function viaClientNode(file: string): Promise<KubeAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${file} has no current cluster`);
  return {
    server: new URL(cluster.server),
    source: `kubeconfig ${file} (via @kubernetes/client-node)`,
    apply: async (opts) => { await kc.applyToHTTPSOptions(opts as never); },
  };
}
