/**
 * One error type for everything that can go wrong talking to a registry, with
 * a `kind` callers branch on. Kyverno reports network-level failures as rule
 * `error` and everything else (no signature, not found, denied) as `fail`;
 * `transient` tells the two apart.
 */

export type RegistryErrorKind =
  | 'auth'        // 401/403, token endpoint refused the credentials
  | 'not-found'   // 404 / MANIFEST_UNKNOWN / NAME_UNKNOWN / BLOB_UNKNOWN
  | 'timeout'     // no answer within the per-call timeout
  | 'tls'         // certificate not trusted, expired, wrong host, handshake failure
  | 'network'     // connection refused/reset, DNS failure
  | 'server'      // 5xx / 429 after retries
  | 'protocol'    // malformed answer, digest mismatch, unexpected media type
  | 'too-large';  // body larger than the configured cap

export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  readonly status?: number;
  readonly url?: string;
  constructor(kind: RegistryErrorKind, message: string, details: { status?: number; url?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RegistryError';
    this.kind = kind;
    this.status = details.status;
    this.url = details.url;
  }

  /** The registry could not be reached or did not answer in time (Kyverno: rule error, not failure). */
  get transient(): boolean {
    return this.kind === 'timeout' || this.kind === 'network' || this.kind === 'tls' || this.kind === 'server';
  }
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_HANDSHAKE_TIMEOUT',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED',
  'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Map a Node socket/TLS error to a RegistryError. */
export function fromSocketError(err: unknown, url: string, what: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as { code?: string; message?: string; name?: string };
  const code = e?.code ?? '';
  const host = safeHost(url);
  if (e?.name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') {
    return new RegistryError('timeout', `${what}: registry ${host} did not answer in time`, { url, cause: err });
  }
  if (e?.name === 'AbortError') {
    return new RegistryError('timeout', `${what}: request to registry ${host} was aborted (deadline)`, { url, cause: err });
  }
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(e?.message ?? '')) {
    return new RegistryError('tls', `${what}: TLS failure talking to ${host}: ${e?.message ?? code}${code ? ` (${code})` : ''}`, { url, cause: err });
  }
  if (NETWORK_CODES.has(code)) {
    return new RegistryError('network', `${what}: cannot reach registry ${host} (${code})`, { url, cause: err });
  }
  return new RegistryError('network', `${what}: ${e?.message ?? String(err)}`, { url, cause: err });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
