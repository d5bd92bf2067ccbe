/** RFC 6902 patch between two JSON documents (fast-json-patch's compare: minimal, deterministic). */
import fjp from 'fast-json-patch';
import type { KubeObject, PatchOperation } from './types.ts';

export function diffPatch(from: KubeObject, to: KubeObject): PatchOperation[] {
  return fjp.compare(from as object, to as object) as PatchOperation[];
}
