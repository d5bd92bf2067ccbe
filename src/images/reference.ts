/**
 * Container image references: the Docker/OCI reference grammar
 * (`[domain[:port]/]path[:tag][@digest]`) and Kyverno's view of a parsed image
 * (registry / path / name / tag / digest / reference / referenceWithTag).
 *
 * Kyverno semantics kept here on purpose:
 * - a default registry (docker.io) is prepended when the first path component
 *   does not look like a host (no `.` or `:`, not `localhost`, all lowercase);
 * - the path is kept as written: `nginx` stays `nginx` (no `library/`), and
 *   `index.docker.io` stays `index.docker.io`;
 * - `tag` defaults to `latest` only when there is no digest;
 * - `reference` is `registry/path@digest` when a digest is present (the tag is
 *   then dropped), else `registry/path:tag`; `referenceWithTag` is always
 *   `registry/path:tag` (with an empty tag for digest-only references).
 *
 * The registry-API view (`host`, `repository`) adds what pulling needs: Docker
 * Hub's `index.docker.io` host and the implicit `library/` namespace.
 *
 * The parser is hand-written (no regular expressions over the whole input), so
 * hostile input cannot trigger backtracking blow-ups.
 */

export const DEFAULT_REGISTRY = 'docker.io';
export const NAME_TOTAL_LENGTH_MAX = 255;
/** Longest input accepted at all; real references are far shorter. */
const INPUT_LENGTH_MAX = 4096;

export interface ImageInfo {
  /** Registry host (with port) as written or defaulted, e.g. `docker.io`, `localhost:5000`; '' when default-registry mutation is off. */
  registry: string;
  /** Repository path without the registry, e.g. `test/nginx`. */
  path: string;
  /** Last path component, e.g. `nginx`. */
  name: string;
  /** Tag; `latest` when neither tag nor digest is given; '' for digest-only references. */
  tag: string;
  /** `algorithm:hex` digest or ''. */
  digest: string;
  /** `registry/path@digest` or `registry/path:tag` (Kyverno's ImageInfo.String()). */
  reference: string;
  /** `registry/path:tag` (tag may be empty). */
  referenceWithTag: string;
}

export interface ParsedImageReference extends ImageInfo {
  /** The string that was parsed. */
  input: string;
  /** Host to contact for the distribution API, e.g. `index.docker.io`, `localhost:5000`. */
  host: string;
  /** Repository as the distribution API names it (Docker Hub single names get `library/`). */
  repository: string;
}

export interface ParseOptions {
  /** Kyverno's `defaultRegistry` (configmap); default `docker.io`. */
  defaultRegistry?: string;
  /** Kyverno's `enableDefaultRegistryMutation`; default true. When false an implicit registry is reported as ''. */
  enableDefaultRegistryMutation?: boolean;
}

/** Why a reference is invalid; `reason` uses the distribution library's wording. */
export class ImageReferenceError extends Error {
  readonly image: string;
  readonly reason: string;
  constructor(image: string, reason: string, message?: string) {
    super(message ?? `invalid image reference "${image}": ${reason}`);
    this.name = 'ImageReferenceError';
    this.image = image;
    this.reason = reason;
  }
}

export const REASON = {
  empty: 'repository name must have at least one component',
  uppercase: 'repository name must be lowercase',
  format: 'invalid reference format',
  tooLong: `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
  digestFormat: 'invalid checksum digest format',
  digestLength: 'invalid checksum digest length',
  digestUnsupported: 'unsupported digest algorithm',
} as const;

/** Hex lengths of the digest algorithms the distribution library registers. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

// ---------------------------------------------------------------- character classes

const isLowerAlnum = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
const isAlnum = (c: number): boolean => isLowerAlnum(c) || (c >= 65 && c <= 90);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isWord = (c: number): boolean => isAlnum(c) || c === 95; /* _ */

// ---------------------------------------------------------------- grammar pieces

/** path-component := [a-z0-9]+ ((`.` | `_` | `__` | `-`+) [a-z0-9]+)* */
function isPathComponent(s: string): boolean {
  if (s.length === 0 || !isLowerAlnum(s.charCodeAt(0)) || !isLowerAlnum(s.charCodeAt(s.length - 1))) return false;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isLowerAlnum(c)) { i++; continue; }
    // a separator run: `.`, `_`, `__` or one or more `-`
    let j = i;
    while (j < s.length && !isLowerAlnum(s.charCodeAt(j))) j++;
    const sep = s.slice(i, j);
    if (!(sep === '.' || sep === '_' || sep === '__' || /^-+$/.test(sep))) return false;
    i = j;
  }
  return true;
}

function isRemoteName(s: string): boolean {
  if (s.length === 0) return false;
  for (const part of s.split('/')) if (!isPathComponent(part)) return false;
  return true;
}

/** domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
function isDomainComponent(s: string): boolean {
  if (s.length === 0 || !isAlnum(s.charCodeAt(0)) || !isAlnum(s.charCodeAt(s.length - 1))) return false;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c !== 45 /* - */) return false;
  }
  return true;
}

/** host[:port] where host is a dotted domain name or a bracketed IPv6 address. */
function isDomainAndPort(s: string): boolean {
  let host = s;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 2) return false;
    for (let i = 1; i < end; i++) {
      const c = s.charCodeAt(i);
      if (!isHex(c) && c !== 58 /* : */) return false;
    }
    const rest = s.slice(end + 1);
    if (rest === '') return true;
    return rest.startsWith(':') && isPort(rest.slice(1));
  }
  const colon = s.indexOf(':');
  if (colon !== -1) {
    if (!isPort(s.slice(colon + 1))) return false;
    host = s.slice(0, colon);
  }
  if (host.length === 0) return false;
  for (const part of host.split('.')) if (!isDomainComponent(part)) return false;
  return true;
}

function isPort(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** tag := [\w][\w.-]{0,127} */
function isTag(s: string): boolean {
  if (s.length === 0 || s.length > 128 || !isWord(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isWord(c) && c !== 46 && c !== 45) return false;
  }
  return true;
}

/** digest := algorithm `:` hex{32,}, algorithm := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* */
function isDigestSyntax(s: string): boolean {
  const colon = s.indexOf(':');
  if (colon <= 0) return false;
  const alg = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (hex.length < 32) return false;
  for (let i = 0; i < hex.length; i++) if (!isHex(hex.charCodeAt(i))) return false;
  for (const part of alg.split(/[-_+.]/)) {
    if (part.length === 0 || !/^[A-Za-z][A-Za-z0-9]*$/.test(part)) return false;
  }
  return true;
}

/** Semantic digest check (after the grammar matched): known algorithm, exact length, lowercase hex. */
function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const alg = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const want = DIGEST_HEX_LENGTH[alg];
  if (want === undefined) return REASON.digestUnsupported;
  if (hex.length !== want) return REASON.digestLength;
  for (let i = 0; i < hex.length; i++) {
    const c = hex.charCodeAt(i);
    if (!(isDigit(c) || (c >= 97 && c <= 102))) return REASON.digestFormat;
  }
  return undefined;
}

// ---------------------------------------------------------------- raw grammar parse

export interface RawReference {
  /** Domain (with port) when the reference names one explicitly; '' otherwise. */
  domain: string;
  path: string;
  tag: string;
  digest: string;
}

/** Syntactic split of `s` following the reference grammar; undefined when it does not match. */
function splitReference(s: string): RawReference | undefined {
  let rest = s;
  let digest = '';
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigestSyntax(digest)) return undefined;
  }
  let tag = '';
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/') && !rest.slice(lastColon).includes(']')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!isTag(tag)) return undefined;
  }
  // Like the anchored grammar, prefer reading the first component as a domain.
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    const remote = rest.slice(slash + 1);
    if (isDomainAndPort(first) && isRemoteName(remote)) return { domain: first, path: remote, tag, digest };
  }
  if (!isRemoteName(rest)) return undefined;
  return { domain: '', path: rest, tag, digest };
}

/**
 * Parse with the distribution library's `Parse` rules (no defaulting): throws
 * ImageReferenceError with the library's reason on invalid input.
 */
export function parseRawReference(s: string): RawReference {
  if (s.length === 0) throw new ImageReferenceError(s, REASON.empty);
  if (s.length > INPUT_LENGTH_MAX) throw new ImageReferenceError(s.slice(0, 64) + '…', REASON.format);
  const raw = splitReference(s);
  if (!raw) {
    const lower = s.toLowerCase();
    if (lower !== s && splitReference(lower)) throw new ImageReferenceError(s, REASON.uppercase);
    throw new ImageReferenceError(s, REASON.format);
  }
  const nameLength = (raw.domain ? raw.domain.length + 1 : 0) + raw.path.length;
  if (nameLength > NAME_TOTAL_LENGTH_MAX) throw new ImageReferenceError(s, REASON.tooLong);
  if (raw.digest) {
    const problem = digestProblem(raw.digest);
    if (problem) throw new ImageReferenceError(s, problem);
  }
  return raw;
}

// ---------------------------------------------------------------- Kyverno view

/** Kyverno's rule for "the first component is not a registry, prepend the default one". */
function needsDefaultRegistry(image: string): boolean {
  const slash = image.indexOf('/');
  if (slash === -1) return true;
  const first = image.slice(0, slash);
  return !first.includes('.') && !first.includes(':') && first !== 'localhost' && first.toLowerCase() === first;
}

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `registry/path@digest` or `registry/path:tag` — Kyverno's ImageInfo.String(). */
export function formatImageInfo(info: Pick<ImageInfo, 'registry' | 'path' | 'tag' | 'digest'>): string {
  const base = info.registry ? `${info.registry}/${info.path}` : info.path;
  return info.digest ? `${base}@${info.digest}` : `${base}:${info.tag}`;
}

/**
 * Parse an image reference the way Kyverno does (see module comment). Throws
 * ImageReferenceError whose message matches Kyverno's
 * `bad image: <full>, defaultRegistry: …, enableDefaultRegistryMutation: …: <reason>`.
 */
// The same few images are admitted over and over: parse each once (default
// options only; results are frozen because they are shared).
const parsedCache = new Map<string, Readonly<ParsedImageReference>>();
const parsedCacheMax = 4096;

export function parseImageReference(image: string, options: ParseOptions = {}): ParsedImageReference {
  const cacheable = options.defaultRegistry === undefined && options.enableDefaultRegistryMutation === undefined;
  if (cacheable) {
    const hit = parsedCache.get(image);
    if (hit) return hit as ParsedImageReference;
  }
  const parsed = parseUncached(image, options);
  if (cacheable) {
    if (parsedCache.size >= parsedCacheMax) parsedCache.delete(parsedCache.keys().next().value!);
    parsedCache.set(image, Object.freeze(parsed));
  }
  return parsed;
}

function parseUncached(image: string, options: ParseOptions): ParsedImageReference {
  const defaultRegistry = options.defaultRegistry ?? DEFAULT_REGISTRY;
  const mutate = options.enableDefaultRegistryMutation ?? true;
  const full = needsDefaultRegistry(image) ? `${defaultRegistry}/${image}` : image;
  let raw: RawReference;
  try {
    raw = parseRawReference(full);
  } catch (e) {
    const reason = e instanceof ImageReferenceError ? e.reason : String(e);
    throw new ImageReferenceError(image, reason,
      `bad image: ${full}, defaultRegistry: ${defaultRegistry}, enableDefaultRegistryMutation: ${mutate}: ${reason}`);
  }
  // With a multi-segment default registry (`host/prefix`) the prefix lands in the path, as in Kyverno.
  const resolvedRegistry = raw.domain;
  const path = raw.path;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const tag = raw.tag || (raw.digest ? '' : 'latest');
  const registry = full !== image && !mutate ? '' : resolvedRegistry;
  const kyvernoInfo = { registry, path, tag, digest: raw.digest };
  const referenceWithTag = registry ? `${registry}/${path}:${tag}` : `${path}:${tag}`;

  const apiRegistry = resolvedRegistry || defaultRegistry;
  const dockerHub = DOCKER_HUB_HOSTS.has(apiRegistry);
  return {
    input: image,
    registry,
    path,
    name,
    tag,
    digest: raw.digest,
    reference: formatImageInfo(kyvernoInfo),
    referenceWithTag,
    host: dockerHub ? 'index.docker.io' : apiRegistry,
    repository: dockerHub && !path.includes('/') ? `library/${path}` : path,
  };
}

/** Non-throwing variant: the parsed reference or the error. */
export function tryParseImageReference(image: string, options?: ParseOptions):
  { ok: true; value: ParsedImageReference } | { ok: false; error: ImageReferenceError } {
  try {
    return { ok: true, value: parseImageReference(image, options) };
  } catch (e) {
    if (e instanceof ImageReferenceError) return { ok: false, error: e };
    throw e;
  }
}

/** True for a well-formed `algorithm:hex` digest of a supported algorithm. */
export function isValidDigest(digest: string): boolean {
  return isDigestSyntax(digest) && digestProblem(digest) === undefined;
}
