/**
 * Paths to the real tools installed by test/support/setup-images.sh, and a
 * wrapper around the `cosign` CLI for tests (keys, signing without Rekor).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const execFileP = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function toolPath(name: 'cosign' | 'crane'): string {
  const p = join(root, '.cache', 'bin', name);
  if (!existsSync(p)) throw new Error(`${name} is not installed: run test/support/setup-images.sh`);
  return p;
}

export interface CosignRunOptions {
  cwd?: string;
  dockerConfig?: string;
  env?: Record<string, string>;
}

export const COSIGN_PASSWORD = 'portcullis-test';

export async function cosign(args: string[], options: CosignRunOptions = {}): Promise<string> {
  const env: Record<string, string | undefined> = {
    ...process.env, COSIGN_PASSWORD, COSIGN_YES: 'true', COSIGN_EXPERIMENTAL: undefined, ...options.env,
  };
  // Keep cosign off the network: no TUF, no Rekor, no Fulcio.
  env.SIGSTORE_NO_CACHE = 'true';
  if (options.dockerConfig) env.DOCKER_CONFIG = options.dockerConfig;
  try {
    const { stdout } = await execFileP(toolPath('cosign'), args, { cwd: options.cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`cosign ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

export interface KeyPair {
  dir: string;
  privateKey: string;
  publicKeyPem: string;
  cleanup(): Promise<void>;
}

/** `cosign generate-key-pair` (ECDSA P-256) in a temp dir. */
export async function generateKeyPair(): Promise<KeyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cosign-'));
  await cosign(['generate-key-pair'], { cwd: dir });
  return {
    dir,
    privateKey: join(dir, 'cosign.key'),
    publicKeyPem: await readFile(join(dir, 'cosign.pub'), 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * `cosign import-key-pair` of an OpenSSL-generated key (`ec:P-384`, `rsa:2048`, `ed25519`),
 * to sign with other algorithms than cosign's default P-256.
 */
export async function importKeyPair(kind: 'ec:P-384' | 'rsa:2048' | 'ed25519'): Promise<KeyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cosign-'));
  const pem = join(dir, 'key.pem');
  const args = kind === 'ed25519' ? ['genpkey', '-algorithm', 'ed25519', '-out', pem]
    : kind === 'rsa:2048' ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', pem]
      : ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', pem];
  await execFileP('openssl', args);
  await cosign(['import-key-pair', '--key', pem, '--output-key-prefix', 'imported'], { cwd: dir });
  return {
    dir,
    privateKey: join(dir, 'imported.key'),
    publicKeyPem: await readFile(join(dir, 'imported.pub'), 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `cosign sign --key … --tlog-upload=false` of `imageRef` (use a digest reference). */
export async function signImage(imageRef: string, key: KeyPair,
  options: CosignRunOptions & { annotations?: Record<string, string>; bundle?: boolean; extraArgs?: string[] } = {}): Promise<void> {
  const extra: string[] = [...(options.extraArgs ?? [])];
  // Sigstore bundle attached as an OCI 1.1 referrer (tag-schema fallback on registries without the API).
  if (options.bundle) extra.push('--new-bundle-format=true', '--use-signing-config=false');
  for (const [k, v] of Object.entries(options.annotations ?? {})) extra.push('-a', `${k}=${v}`);
  await cosign(['sign', '--key', key.privateKey, '--tlog-upload=false', '-y', ...extra, imageRef], options);
}

/** `cosign attest --key … --tlog-upload=false --type <type> --predicate <json>` of `imageRef`. */
export async function attestImage(imageRef: string, key: KeyPair, predicate: object, type: string,
  options: CosignRunOptions & { bundle?: boolean } = {}): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const file = join(key.dir, `predicate-${process.hrtime.bigint()}.json`);
  await writeFile(file, JSON.stringify(predicate));
  const bundle = options.bundle ? ['--new-bundle-format=true', '--use-signing-config=false'] : [];
  await cosign(['attest', '--key', key.privateKey, '--tlog-upload=false', '-y', ...bundle, '--type', type, '--predicate', file, imageRef], options);
}
