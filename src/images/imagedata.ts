/**
 * Kyverno's `imageRegistry` context entry: descriptor, manifest and config of
 * an image, in the shape Kyverno exposes
 *   { image, resolvedImage, registry, repository, identifier, manifest, configData }
 * - registry/repository use go-containerregistry naming (Docker Hub is
 *   `index.docker.io`, single names get `library/`);
 * - identifier is the tag (default `latest`) or the digest;
 * - resolvedImage is `<registry>/<repository>@<top-level digest>` (the index
 *   digest for multi-platform images);
 * - manifest/configData are those of the linux/amd64 image of an index.
 * JMESPath projection of the result (`imageRegistry.jmesPath`) is the caller's.
 */
import type { JsonObject, JsonValue } from '../engine/types.ts';
import type { RegistryClient, CallOptions } from './registry/client.ts';
import type { Platform } from './registry/media.ts';
import { parseImageReference, type ParseOptions } from './reference.ts';

export interface ImageDataOptions extends CallOptions {
  platform?: Platform;
  parse?: ParseOptions;
}

export async function fetchImageData(reference: string, client: RegistryClient, options: ImageDataOptions = {}): Promise<JsonObject> {
  let ref;
  try {
    ref = parseImageReference(reference, options.parse);
  } catch (e) {
    throw new Error(`failed to fetch image descriptor: ${reference}, error: ${(e as Error).message}`);
  }
  let resolved;
  let config: Buffer;
  try {
    resolved = await client.getPlatformManifest(ref, options.platform, options);
    config = await client.getBlob(ref, resolved.manifest.config.digest, options);
  } catch (e) {
    throw new Error(`failed to fetch image descriptor: ${reference}, error: ${(e as Error).message}`);
  }
  let configData: JsonValue;
  try {
    configData = JSON.parse(config.toString('utf8'));
  } catch {
    throw new Error(`failed to decode config for image reference: ${reference}, error: invalid JSON`);
  }
  return {
    image: reference,
    resolvedImage: `${ref.host}/${ref.repository}@${resolved.digest}`,
    registry: ref.host,
    repository: ref.repository,
    identifier: ref.digest || ref.tag,
    manifest: resolved.manifest as unknown as JsonValue,
    configData,
  };
}
