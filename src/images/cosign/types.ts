/** Kyverno verifyImages attestor configuration, as written in policies. */

export interface RekorConfig {
  url?: string;
  /** PEM public key of the Rekor log, to check a signature bundle's SignedEntryTimestamp offline. */
  pubkey?: string;
  /** Skip transparency-log checks. */
  ignoreTlog?: boolean;
}

export interface CTLogConfig {
  ignoreSCT?: boolean;
  pubkey?: string;
  tsaCertChain?: string;
}

export interface SecretReference {
  name: string;
  namespace: string;
}

export interface KeysAttestor {
  publicKeys?: string;
  secret?: SecretReference;
  kms?: string;
  /** sha224 | sha256 | sha384 | sha512; default sha256. */
  signatureAlgorithm?: string;
  rekor?: RekorConfig;
  ctlog?: CTLogConfig;
}

export interface CertificateAttestor {
  cert?: string;
  certChain?: string;
  rekor?: RekorConfig;
  ctlog?: CTLogConfig;
}

export interface KeylessAttestor {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
  roots?: string;
  additionalExtensions?: Record<string, string>;
  rekor?: RekorConfig;
  ctlog?: CTLogConfig;
}

export interface Attestor {
  keys?: KeysAttestor;
  certificates?: CertificateAttestor;
  keyless?: KeylessAttestor;
  /** Nested attestor set. */
  attestor?: AttestorSet;
  repository?: string;
}

export interface AttestorSet {
  /** How many entries must verify; absent or 0 means all of them. */
  count?: number;
  entries?: Attestor[];
}
