/**
 * OCI distribution API client: manifest HEAD/GET, blob GET, referrers, with
 * the registry auth dance (anonymous → challenge → bearer token or basic),
 * bounded retries for transient failures, per-attempt timeouts and an optional
 * caller deadline. Content is verified against its digest before it is used.
 */
import { createHash } from 'node:crypto';
import { httpRequest, type HttpResponse } from './http.ts';
import { RegistryError } from './errors.ts';
import { parseWwwAuthenticate, basicAuthorization, TokenCache, tokenUrl, type Challenge } from './auth.ts';
import type { CredentialStore } from './credentials.ts';
import {
  MANIFEST_ACCEPT, MEDIA, isIndexMediaType, selectPlatform,
  type Descriptor, type ImageIndex, type ImageManifest, type Platform,
} from './media.ts';
import { isValidDigest, parseImageReference, type ParsedImageReference, type ParseOptions } from '../reference.ts';

export interface RegistryClientOptions {
  credentials?: CredentialStore;
  /** Extra trusted CA certificates (PEM), added to the public roots. */
  ca?: string | string[];
  /** Per-attempt timeout in ms (default 10 000). */
  timeoutMs?: number;
  /** Retries after a transient failure (connection reset/refused, 429, 5xx); default 2. */
  retries?: number;
  /** First retry delay in ms, doubled each time (default 100). */
  retryDelayMs?: number;
  /** Kyverno `allowInsecureRegistry`: accept any TLS certificate. */
  allowInsecure?: boolean;
  /** `http` or `https` for a host; default: http for loopback hosts, https otherwise. */
  schemeFor?: (host: string) => 'http' | 'https';
  maxManifestBytes?: number;
  maxBlobBytes?: number;
  /** Default registry handling for references parsed by this client. */
  parse?: ParseOptions;
}

export interface CallOptions {
  /** Caller deadline; aborts in-flight requests and pending retries. */
  signal?: AbortSignal;
}

/** Repository coordinates for API calls. */
export interface Repo {
  host: string;
  repository: string;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  size: number;
  body: Buffer;
  json: ImageManifest | ImageIndex;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

export function defaultScheme(host: string): 'http' | 'https' {
  return LOOPBACK.test(host) ? 'http' : 'https';
}

export function sha256Digest(body: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(body).digest('hex');
}

/** Verify `body` against `digest` (sha256/sha384/sha512). */
export function digestMatches(body: Buffer, digest: string): boolean {
  const colon = digest.indexOf(':');
  const alg = digest.slice(0, colon);
  if (alg !== 'sha256' && alg !== 'sha384' && alg !== 'sha512') return false;
  return `${alg}:${createHash(alg).update(body).digest('hex')}` === digest;
}

export class RegistryClient {
  private readonly opts: Required<Omit<RegistryClientOptions, 'credentials' | 'ca' | 'parse' | 'allowInsecure'>> & RegistryClientOptions;
  private readonly tokens = new TokenCache();
  /** Hosts known to want basic auth (no token round trip needed). */
  private readonly basicHosts = new Set<string>();

  constructor(options: RegistryClientOptions = {}) {
    this.opts = {
      timeoutMs: 10_000,
      retries: 2,
      retryDelayMs: 100,
      schemeFor: defaultScheme,
      maxManifestBytes: 4 * 1024 * 1024,
      maxBlobBytes: 32 * 1024 * 1024,
      ...options,
    };
  }

  /**
   * A client with the same settings that tries `credentials` first (a Pod's
   * imagePullSecrets), then this client's own.
   */
  withCredentials(credentials: CredentialStore): RegistryClient {
    const own = this.opts.credentials;
    return new RegistryClient({ ...this.opts, credentials: (host) => credentials(host) ?? own?.(host) });
  }

  /** Parse an image reference with this client's default-registry settings. */
  parse(image: string): ParsedImageReference {
    return parseImageReference(image, this.opts.parse);
  }

  /** HEAD a manifest: its descriptor (digest from Docker-Content-Digest), or a GET when the header is missing. */
  async headManifest(repo: Repo, reference: string, call: CallOptions = {}): Promise<Descriptor> {
    const what = `resolving ${display(repo, reference)}`;
    const res = await this.send(repo, 'HEAD', `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, what, call, this.opts.maxManifestBytes);
    const digest = header(res, 'docker-content-digest');
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0].trim();
    if (!digest || !isValidDigest(digest)) {
      const m = await this.getManifest(repo, reference, call);
      return { mediaType: m.mediaType, digest: m.digest, size: m.size };
    }
    if (reference.includes(':') && reference !== digest) {
      throw new RegistryError('protocol', `${what}: registry answered digest ${digest} for ${reference}`, { url: res.url });
    }
    return { mediaType, digest, size: Number(header(res, 'content-length') ?? 0) };
  }

  /** GET a manifest or index; its digest is computed from the bytes (and checked when `reference` is a digest). */
  async getManifest(repo: Repo, reference: string, call: CallOptions = {}): Promise<FetchedManifest> {
    const what = `fetching manifest of ${display(repo, reference)}`;
    const res = await this.send(repo, 'GET', `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, what, call, this.opts.maxManifestBytes);
    const body = res.body;
    let digest = sha256Digest(body);
    if (reference.includes(':')) {
      if (!digestMatches(body, reference)) {
        throw new RegistryError('protocol', `${what}: content does not match digest ${reference}`, { url: res.url });
      }
      digest = reference;
    }
    let json: ImageManifest | ImageIndex;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RegistryError('protocol', `${what}: manifest is not valid JSON`, { url: res.url });
    }
    const mediaType = json.mediaType || (header(res, 'content-type') ?? '').split(';')[0].trim()
      || ('manifests' in json ? MEDIA.ociIndex : MEDIA.ociManifest);
    return { digest, mediaType, size: body.length, body, json };
  }

  /** GET a blob (following redirects to storage without credentials) and verify its digest. */
  async getBlob(repo: Repo, digest: string, call: CallOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const what = `fetching blob ${digest} of ${repo.host}/${repo.repository}`;
    if (!isValidDigest(digest)) throw new RegistryError('protocol', `${what}: invalid digest`);
    const res = await this.send(repo, 'GET', `blobs/${digest}`, {}, what, call, call.maxBytes ?? this.opts.maxBlobBytes, true);
    if (!digestMatches(res.body, digest)) {
      throw new RegistryError('protocol', `${what}: content does not match its digest`, { url: res.url });
    }
    return res.body;
  }

  /**
   * OCI 1.1 referrers of `digest` (optionally filtered by artifactType).
   * Registries without the API answer 404; that yields an empty list.
   */
  async getReferrers(repo: Repo, digest: string, artifactType?: string, call: CallOptions = {}): Promise<Descriptor[]> {
    const what = `listing referrers of ${repo.host}/${repo.repository}@${digest}`;
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    let res: HttpResponse;
    try {
      res = await this.send(repo, 'GET', `referrers/${digest}${q}`, { accept: MEDIA.ociIndex }, what, call, this.opts.maxManifestBytes);
    } catch (e) {
      if (e instanceof RegistryError && e.kind === 'not-found') return [];
      throw e;
    }
    try {
      const idx = JSON.parse(res.body.toString('utf8')) as ImageIndex;
      const list = Array.isArray(idx.manifests) ? idx.manifests : [];
      return artifactType ? list.filter((d) => d.artifactType === artifactType) : list;
    } catch {
      throw new RegistryError('protocol', `${what}: referrers answer is not valid JSON`, { url: res.url });
    }
  }

  /** The digest an image reference designates: its own digest, or the tag resolved with HEAD. */
  async resolveDigest(image: ParsedImageReference, call: CallOptions = {}): Promise<string> {
    if (image.digest) return image.digest;
    return (await this.headManifest(image, image.tag || 'latest', call)).digest;
  }

  /**
   * The image manifest for `platform`: follows an index to the platform's
   * manifest. Returns the top-level digest and the platform manifest.
   */
  async getPlatformManifest(image: ParsedImageReference, platform?: Platform, call: CallOptions = {}):
    Promise<{ digest: string; manifestDigest: string; manifest: ImageManifest; mediaType: string }> {
    const top = await this.getManifest(image, image.digest || image.tag || 'latest', call);
    if (!isIndexMediaType(top.mediaType) && !('manifests' in top.json)) {
      return { digest: top.digest, manifestDigest: top.digest, manifest: top.json as ImageManifest, mediaType: top.mediaType };
    }
    const desc = selectPlatform(top.json as ImageIndex, platform);
    if (!desc) {
      const want = platform ? `${platform.os}/${platform.architecture}${platform.variant ? '/' + platform.variant : ''}` : 'linux/amd64';
      throw new RegistryError('not-found', `${display(image, image.digest || image.tag)}: no manifest for platform ${want} in the image index`);
    }
    const m = await this.getManifest(image, desc.digest, call);
    return { digest: top.digest, manifestDigest: m.digest, manifest: m.json as ImageManifest, mediaType: m.mediaType };
  }

  /** Forget cached tokens (tests). */
  clearAuthCache(): void {
    this.tokens.clear();
    this.basicHosts.clear();
  }

  // ------------------------------------------------------------------ internals

  private baseUrl(host: string): string {
    const apiHost = host === 'index.docker.io' ? 'registry-1.docker.io' : host;
    return `${this.opts.schemeFor(host)}://${apiHost}/v2/`;
  }

  private async send(repo: Repo, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>,
    what: string, call: CallOptions, maxBytes: number, followRedirects = false): Promise<HttpResponse> {
    const url = `${this.baseUrl(repo.host)}${repo.repository}/${path}`;
    const scope = `repository:${repo.repository}:pull`;
    let authorization = this.cachedAuthorization(repo.host, scope);
    let triedAuth = false;
    for (let attempt = 0; ; attempt++) {
      const h = { ...headers };
      if (authorization) h.authorization = authorization;
      let res: HttpResponse;
      try {
        res = await httpRequest({
          method, url, headers: h, timeoutMs: this.opts.timeoutMs, signal: call.signal, maxBytes, ca: this.opts.ca,
          insecure: this.opts.allowInsecure, followRedirects, what,
        });
      } catch (e) {
        if (e instanceof RegistryError && e.kind === 'network' && attempt < this.opts.retries && !call.signal?.aborted) {
          await this.backoff(attempt, call.signal);
          continue;
        }
        throw e;
      }
      if (res.status === 401 && !triedAuth) {
        triedAuth = true;
        authorization = await this.authorize(repo.host, scope, res, what, call);
        if (authorization) { attempt--; continue; }
      }
      if (res.status >= 200 && res.status < 300) return res;
      if ((res.status === 429 || res.status >= 500) && attempt < this.opts.retries && !call.signal?.aborted) {
        await this.backoff(attempt, call.signal);
        continue;
      }
      throw statusError(res, what);
    }
  }

  private cachedAuthorization(host: string, scope: string): string | undefined {
    const token = this.tokens.get(`${host}|${scope}`);
    if (token) return `Bearer ${token}`;
    if (this.basicHosts.has(host)) {
      const cred = this.opts.credentials?.(host);
      return cred ? basicAuthorization(cred) : undefined;
    }
    return undefined;
  }

  /** Answer a 401 challenge; undefined when there is nothing to try. */
  private async authorize(host: string, scope: string, res: HttpResponse, what: string, call: CallOptions): Promise<string | undefined> {
    const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
    const cred = this.opts.credentials?.(host);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      if (cred?.registryToken) return `Bearer ${cred.registryToken}`;
      const token = await this.fetchToken(host, bearer, scope, what, call);
      return `Bearer ${token}`;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const basic = cred ? basicAuthorization(cred) : undefined;
      if (!basic) throw new RegistryError('auth', `${what}: registry ${host} requires credentials and none are configured`, { status: 401, url: res.url });
      this.basicHosts.add(host);
      return basic;
    }
    return undefined;
  }

  private async fetchToken(host: string, challenge: Challenge, scope: string, what: string, call: CallOptions): Promise<string> {
    const scopes = [scope];
    const cacheKey = `${host}|${scope}`;
    const cred = this.opts.credentials?.(host);
    let url: URL;
    try {
      url = tokenUrl(challenge, scopes);
    } catch (e) {
      throw new RegistryError('protocol', `${what}: ${(e as Error).message}`);
    }
    let res: HttpResponse;
    if (cred?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token', refresh_token: cred.identityToken, service: challenge.params.service ?? '',
        scope: scopes.join(' '), client_id: 'portcullis',
      });
      res = await httpRequest({
        method: 'POST', url: url.origin + url.pathname, body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        timeoutMs: this.opts.timeoutMs, signal: call.signal, maxBytes: 1024 * 1024, ca: this.opts.ca,
        insecure: this.opts.allowInsecure, what: `${what} (token)`,
      });
    } else {
      const headers: Record<string, string> = {};
      const basic = cred ? basicAuthorization(cred) : undefined;
      if (basic) headers.authorization = basic;
      res = await httpRequest({
        method: 'GET', url: url.toString(), headers, timeoutMs: this.opts.timeoutMs, signal: call.signal,
        maxBytes: 1024 * 1024, ca: this.opts.ca, insecure: this.opts.allowInsecure, what: `${what} (token)`,
      });
    }
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('auth', `${what}: token endpoint ${url.host} refused ${cred ? 'the configured credentials' : 'anonymous access'} (HTTP ${res.status})`, { status: res.status, url: url.toString() });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new RegistryError(res.status >= 500 ? 'server' : 'auth', `${what}: token endpoint ${url.host} answered HTTP ${res.status}`, { status: res.status, url: url.toString() });
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RegistryError('protocol', `${what}: token endpoint answer is not JSON`, { url: url.toString() });
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError('protocol', `${what}: token endpoint answer has no token`, { url: url.toString() });
    this.tokens.set(cacheKey, token, typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60);
    return token;
  }

  private backoff(attempt: number, signal?: AbortSignal): Promise<void> {
    const ms = this.opts.retryDelayMs * 2 ** attempt;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function display(repo: Repo, reference: string): string {
  const sep = reference.includes(':') ? '@' : ':';
  return `${repo.host}/${repo.repository}${sep}${reference}`;
}

/** Error for a non-2xx answer, with the registry's own error code when it sent one. */
function statusError(res: HttpResponse, what: string): RegistryError {
  let detail = '';
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const e = body.errors?.[0];
    if (e) detail = ` (${[e.code, e.message].filter(Boolean).join(': ')})`;
  } catch { /* not JSON */ }
  const s = res.status;
  const details = { status: s, url: res.url };
  if (s === 404) return new RegistryError('not-found', `${what}: not found${detail}`, details);
  if (s === 401 || s === 403) return new RegistryError('auth', `${what}: access denied (HTTP ${s})${detail}`, details);
  if (s === 429 || s >= 500) return new RegistryError('server', `${what}: registry error HTTP ${s}${detail}`, details);
  return new RegistryError('protocol', `${what}: unexpected HTTP ${s}${detail}`, details);
}

/** Parse an image string and return a Repo for it (convenience for callers holding strings). */
export function repoOf(image: string | ParsedImageReference, parse?: ParseOptions): ParsedImageReference {
  return typeof image === 'string' ? parseImageReference(image, parse) : image;
}
