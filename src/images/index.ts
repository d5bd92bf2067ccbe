/**
 * Image handling public API (see each module for Kyverno semantics):
 * - reference.ts: parse image references, Kyverno ImageInfo fields
 * - extract.ts:   the `images` context variable from Pods / pod controllers
 * - match.ts:     imageReferences / skipImageReferences, mutateDigest patches
 * - imagedata.ts: the `imageRegistry` context entry
 * - registry/*:   OCI distribution client, credentials (config.json, pull secrets), errors
 * - cosign/*:     signature, certificate/keyless and attestation verification, cache
 */
export {
  parseImageReference, tryParseImageReference, parseRawReference, formatImageInfo, isValidDigest,
  ImageReferenceError, DEFAULT_REGISTRY,
  type ImageInfo, type ParsedImageReference, type ParseOptions,
} from './reference.ts';
export {
  extractImagesInfo, imagesContextValue, imageContextValue, imageInfoToJson, listImages, compileImageExtractors,
  ImageExtractionError, KINDS_WITH_IMAGES,
  type ExtractedImage, type ImagesByGroup, type ImageExtractorConfig, type ImageExtractorConfigs,
} from './extract.ts';
export {
  compileImageReferences, matchImageReferences, compileImageScope, decideImage, digestPatch,
  type ImageScope, type ScopeDecision,
} from './match.ts';
export { fetchImageData } from './imagedata.ts';
export { RegistryClient, type RegistryClientOptions, type Repo } from './registry/client.ts';
export { RegistryError, type RegistryErrorKind } from './registry/errors.ts';
export {
  parseDockerConfig, credentialStore, credentialsFromSecrets, loadDockerConfigFile,
  type Credential, type CredentialStore,
} from './registry/credentials.ts';
export { closeHttpAgents } from './registry/http.ts';
export {
  pullSecretNames, credentialsFromSecretNames, podCredentialStore, cachedSecretReader, kubernetesSecretReader,
  type SecretReader, type KubernetesSecretReaderOptions,
} from './registry/pull-secrets.ts';
export {
  verifyImageSignatures, defaultVerificationCache, cacheKey, certificateSigner, keylessSigner,
  type VerificationResult, type VerifyOptions, type CertificateSigner, type SignatureCertificates,
} from './cosign/verify.ts';
export { verifyEmbeddedScts, ctLogKey, type CTLogKey } from './cosign/sct.ts';
export {
  verifyImageAttestations, predicateContext, defaultStatementCache,
  type AttestationSpec, type ConditionEvaluator, type InTotoStatement, type AttestationResult, type StatementsEntry,
} from './cosign/attestations.ts';
export { VerificationCache, configKey, type CacheOptions, type CacheStats } from './cosign/cache.ts';
export type { Attestor, AttestorSet, KeysAttestor, CertificateAttestor, KeylessAttestor } from './cosign/types.ts';
