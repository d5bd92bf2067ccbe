/**
 * Registry credentials from a docker `config.json` and from Kubernetes
 * `imagePullSecrets` (kubernetes.io/dockerconfigjson and the legacy
 * kubernetes.io/dockercfg). Credential helpers (`credsStore`/`credHelpers`)
 * would need a subprocess and are not supported.
 */
import { readFile } from 'node:fs/promises';
import type { KubeObject } from '../../engine/types.ts';

export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken`), sent to the token endpoint. */
  identityToken?: string;
  /** Pre-issued bearer token (`registrytoken`). */
  registryToken?: string;
}

/** Look up the credential for a registry host (with port). */
export type CredentialStore = (host: string) => Credential | undefined;

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

const DOCKER_HUB = 'index.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `https://index.docker.io/v1/` → `index.docker.io`; `ghcr.io` → `ghcr.io`. */
export function normaliseRegistryKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash !== -1) k = k.slice(0, slash);
  k = k.toLowerCase();
  return DOCKER_HUB_ALIASES.has(k) ? DOCKER_HUB : k;
}

function toCredential(entry: DockerAuthEntry): Credential | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  const c: Credential = {};
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon !== -1) {
      c.username = decoded.slice(0, colon);
      c.password = decoded.slice(colon + 1);
    }
  }
  if (typeof entry.username === 'string' && entry.username !== '') c.username = entry.username;
  if (typeof entry.password === 'string' && entry.password !== '') c.password = entry.password;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') c.identityToken = entry.identitytoken;
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') c.registryToken = entry.registrytoken;
  return Object.keys(c).length > 0 ? c : undefined;
}

/** Parse the JSON text of a docker config.json (`{"auths": {...}}`) or legacy .dockercfg (`{host: {...}}`). */
export function parseDockerConfig(json: string | Record<string, unknown>): Map<string, Credential> {
  const doc = (typeof json === 'string' ? JSON.parse(json) : json) as Record<string, unknown>;
  const out = new Map<string, Credential>();
  const auths = (doc && typeof doc === 'object' && 'auths' in doc ? doc.auths : doc) as Record<string, DockerAuthEntry> | undefined;
  if (!auths || typeof auths !== 'object') return out;
  for (const [key, entry] of Object.entries(auths)) {
    const cred = toCredential(entry);
    const host = normaliseRegistryKey(key);
    if (cred && !out.has(host)) out.set(host, cred);
  }
  return out;
}

/** A store over one or more credential maps; earlier maps win. */
export function credentialStore(...maps: Array<Map<string, Credential>>): CredentialStore {
  return (host) => {
    const key = normaliseRegistryKey(host);
    for (const m of maps) {
      const c = m.get(key);
      if (c) return c;
    }
    return undefined;
  };
}

/** Read a docker config.json from disk (default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`). */
export async function loadDockerConfigFile(path?: string): Promise<Map<string, Credential>> {
  const file = path ?? `${process.env.DOCKER_CONFIG ?? `${process.env.HOME ?? ''}/.docker`}/config.json`;
  try {
    return parseDockerConfig(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return new Map();
    throw new Error(`cannot read docker config ${file}: ${(e as Error).message}`);
  }
}

/**
 * Credentials from pull secrets (as read from the Kubernetes API). Secrets of
 * other types are ignored; malformed ones raise an error naming the secret.
 */
export function credentialsFromSecrets(secrets: readonly KubeObject[]): Map<string, Credential> {
  const out = new Map<string, Credential>();
  for (const s of secrets) {
    const data = (s as { data?: Record<string, string> }).data ?? {};
    const raw = data['.dockerconfigjson'] ?? data['.dockercfg'];
    if (typeof raw !== 'string') continue;
    let parsed: Map<string, Credential>;
    try {
      parsed = parseDockerConfig(Buffer.from(raw, 'base64').toString('utf8'));
    } catch (e) {
      throw new Error(`invalid pull secret ${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}: ${(e as Error).message}`);
    }
    for (const [k, v] of parsed) if (!out.has(k)) out.set(k, v);
  }
  return out;
}
