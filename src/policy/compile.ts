/**
 * Policy compilation with CEL included: compile-base.ts plus the CEL compiler.
 * The CLI and tests use this entry; the webhook uses compile-base.ts directly and
 * adds the CEL compiler only when its policy set needs it.
 */
import type { LoadedPolicy, PolicyLoadError } from './types.ts';
import { compilePolicies as compileWith, type CompileExtras, type CompiledPolicy } from './compile-base.ts';
import { celCompiler } from './compile-cel.ts';

export * from './compile-base.ts';
export { celCompiler };

export function compilePolicies(loaded: readonly LoadedPolicy[], extras: CompileExtras = {}): { policies: CompiledPolicy[]; errors: PolicyLoadError[] } {
  return compileWith(loaded, { cel: celCompiler, ...extras });
}
