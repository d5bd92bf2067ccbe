/**
 * Synchronous, on-first-use loading of a module that is expensive to keep
 * resident (CEL pulls in @bufbuild/cel: ~20 MiB) but needed only by some policy
 * sets. Node 24 `require`s ES modules synchronously, so compile-time code that
 * is itself synchronous can load it on demand. Works from the .ts sources and
 * from the built .js (the extension follows the caller's).
 */
import { createRequire } from 'node:module';

export function lazyModule<T>(callerUrl: string, relativePathWithoutExtension: string): () => T {
  const require = createRequire(callerUrl);
  const file = `${relativePathWithoutExtension}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`;
  let loaded: T | undefined;
  return () => (loaded ??= require(file) as T);
}
