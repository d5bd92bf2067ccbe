/**
 * verifyImages handler. Image signature verification needs a registry and is
 * wired to src/images by the image-verification work; until a verifier is
 * configured, rules that need one report a clear error.
 */
import type { JsonObject } from '../types.ts';
import type { RuleHandler } from './types.ts';

export function compileVerifyImagesHandler(ruleName: string, verifyImages: JsonObject[]): RuleHandler {
  void verifyImages;
  return () => ({ status: 'error', message: `rule ${ruleName}: image verification is not available in this engine configuration` });
}
