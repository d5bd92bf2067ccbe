/**
 * Find Test files: every file named `kyverno-test.yaml` (or --file-name)
 * below each path, recursively, in sorted order. A path that is itself a file
 * is taken as a Test file whatever its name.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseTest, type TestSpec } from './spec.ts';

export const DEFAULT_TEST_FILE = 'kyverno-test.yaml';

export async function discoverTestFiles(paths: readonly string[], fileName = DEFAULT_TEST_FILE): Promise<{ files: string[]; errors: { path: string; error: string }[] }> {
  const files: string[] = [];
  const errors: { path: string; error: string }[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name === fileName) files.push(p);
    }
  };
  for (const path of paths) {
    try {
      const st = await stat(path);
      if (st.isDirectory()) await walk(path);
      else files.push(path);
    } catch (e) {
      errors.push({ path, error: (e as Error).message });
    }
  }
  return { files, errors };
}

/** Read and parse a Test file (its first non-empty document). Throws with a readable message. */
export async function readTestFile(path: string): Promise<TestSpec> {
  const text = await readFile(path, 'utf8');
  return parseTestText(text);
}

export function parseTestText(text: string): TestSpec {
  const docs = parseAllDocuments(text, { merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    if (d.errors.length > 0) throw new Error(`failed to parse test: ${d.errors[0]!.message}`);
    const v = d.toJS({ maxAliasCount: 1000 }) as unknown;
    if (v !== null && v !== undefined) return parseTest(v);
  }
  throw new Error('failed to parse test: empty document');
}

/** Read the first non-empty YAML document of a file as plain JSON. */
export async function readYamlFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  const docs = parseAllDocuments(text, { merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    if (d.errors.length > 0) throw new Error(`failed to parse ${path}: ${d.errors[0]!.message}`);
    const v = d.toJS({ maxAliasCount: 1000 }) as unknown;
    if (v !== null && v !== undefined) return v;
  }
  return {};
}
