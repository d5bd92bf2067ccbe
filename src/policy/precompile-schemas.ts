/**
 * Build step: every CRD schema in ./schemas compiled to a standalone ajv
 * validator module (`<group>_<version>_<Kind>.cjs`) plus `manifest.json`
 * recording each schema's fingerprint, which schema.ts checks before using one.
 *
 *   node dist/policy/precompile-schemas.js dist/policy/validators
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Ajv, ValidateFunction } from 'ajv';
import { makeAjv, schemaFingerprint, schemaToCompile } from './schema.ts';

// ajv's standalone generator is a CommonJS module whose export is the function itself.
const standaloneCode = createRequire(import.meta.url)('ajv/dist/standalone') as (ajv: Ajv, validate: ValidateFunction) => string;
const schemaDir = fileURLToPath(new URL('./schemas/', import.meta.url));

/** Writes the validators and the manifest into `outDir`; returns how many were written. */
export function precompileSchemas(outDir: string): number {
  mkdirSync(outDir, { recursive: true });
  const manifest: Record<string, string> = {};
  for (const file of readdirSync(schemaDir).filter((f) => f.endsWith('.json')).sort()) {
    const key = file.slice(0, -'.json'.length);
    const text = readFileSync(join(schemaDir, file), 'utf8');
    // One ajv per schema: the module holds only what this validator references.
    const ajv = makeAjv({ code: { source: true } });
    writeFileSync(join(outDir, `${key}.cjs`), standaloneCode(ajv, ajv.compile(schemaToCompile(text))));
    manifest[key] = schemaFingerprint(text);
  }
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return Object.keys(manifest).length;
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: precompile-schemas OUT_DIR\n');
    process.exit(2);
  }
  process.stdout.write(`precompiled ${precompileSchemas(out)} CRD schema validators into ${out}\n`);
}
