/**
 * verifyImages scoping: `imageReferences` / `skipImageReferences` are Kyverno
 * wildcard patterns (`*`, `?`) matched against the image's Kyverno string form
 * (ImageInfo.String(): `registry/path:tag`, or `registry/path@digest` when a
 * digest is present). Compile once per rule; the matcher is a closure.
 */
import { compileWildcard, type StringMatcher } from '../engine/wildcard.ts';
import type { PatchOperation } from '../engine/types.ts';
import { formatImageInfo, type ImageInfo } from './reference.ts';
import type { ExtractedImage } from './extract.ts';

/** Patterns longer than this are rejected at compile time (guards the glob matcher). */
const PATTERN_LENGTH_MAX = 1024;

/** True when any pattern matches `image`. */
export type ImageReferenceMatcher = (image: string) => boolean;

export function compileImageReferences(patterns: readonly string[] | undefined): ImageReferenceMatcher {
  const list = (patterns ?? []).filter((p) => typeof p === 'string');
  for (const p of list) {
    if (p.length > PATTERN_LENGTH_MAX) throw new Error(`image reference pattern longer than ${PATTERN_LENGTH_MAX} characters`);
  }
  if (list.length === 0) return () => false;
  if (list.includes('*')) return () => true;
  const matchers: StringMatcher[] = list.map(compileWildcard);
  return (image) => {
    for (const m of matchers) if (m(image)) return true;
    return false;
  };
}

/** One-shot convenience: Kyverno's matchReferences. */
export function matchImageReferences(patterns: readonly string[] | undefined, image: string): boolean {
  return compileImageReferences(patterns)(image);
}

export interface ImageScope {
  /** Matches the rule's `imageReferences` (an absent list matches nothing, as in Kyverno). */
  includes: ImageReferenceMatcher;
  /** Matches the rule's `skipImageReferences`. */
  skips: ImageReferenceMatcher;
}

export function compileImageScope(imageReferences: readonly string[] | undefined,
  skipImageReferences: readonly string[] | undefined): ImageScope {
  return { includes: compileImageReferences(imageReferences), skips: compileImageReferences(skipImageReferences) };
}

export type ScopeDecision = 'verify' | 'skip' | 'ignore';

/** `verify` when included and not skipped; `skip` when skipped; `ignore` when not referenced at all. */
export function decideImage(scope: ImageScope, info: ImageInfo): ScopeDecision {
  const s = formatImageInfo(info);
  if (!scope.includes(s)) return 'ignore';
  if (scope.skips(s)) return 'skip';
  return 'verify';
}

/**
 * mutateDigest patch: replace the image string with `<registry/path:tag>@<digest>`
 * (Kyverno keeps the tag next to the digest).
 */
export function digestPatch(image: ExtractedImage, digest: string): PatchOperation {
  const withoutDigest = formatImageInfo({ ...image, digest: '' });
  return { op: 'replace', path: image.jsonPointer, value: `${withoutDigest}@${digest}` };
}
