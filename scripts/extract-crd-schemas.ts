/**
 * Regenerate src/policy/schemas/*.json from Kyverno's CRDs (../shared/kyverno-crds by default).
 * Each served version's openAPIV3Schema is written as `<group>_<version>_<Kind>.json` (minified).
 * Usage: node scripts/extract-crd-schemas.ts [CRD_DIR]
 */
import { readdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const crdDir = process.argv[2] ?? '../shared/kyverno-crds';
const outDir = 'src/policy/schemas';
const wanted = /^(kyverno\.io_(clusterpolicies|policies|policyexceptions|globalcontextentries)|policies\.kyverno\.io_.*)\.yaml$/;

for (const file of readdirSync(crdDir).sort()) {
  if (!wanted.test(file)) continue;
  for (const doc of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
    const crd = doc.toJSON();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec.versions) {
      if (!v.served) continue;
      const out = join(outDir, `${crd.spec.group}_${v.name}_${crd.spec.names.kind}.json`);
      writeFileSync(out, JSON.stringify(v.schema.openAPIV3Schema));
      console.log(out);
    }
  }
}
copyFileSync(join(crdDir, 'LICENSE'), join(outDir, 'LICENSE'));
