/**
 * Test harness around the real docker-registry (start.sh) plus helpers to make
 * a throw-away TLS certificate and push small images with the real `crane`.
 * Everything runs on loopback and is stopped by the returned `stop()`.
 */
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolPath } from '../cosign/tools.ts';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export interface RunningRegistry {
  /** host:port */
  address: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  tls?: { cert: string; key: string };
  /** `user:password` enables htpasswd basic auth. */
  user?: string;
  /** Token auth: the registry sends clients to `realm` and trusts JWTs signed by `rootCert`'s key. */
  token?: { realm: string; service: string; issuer: string; rootCert: string };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const args: string[] = [];
  if (options.tls) args.push('--tls-cert', options.tls.cert, '--tls-key', options.tls.key);
  if (options.user) args.push('--htpasswd-user', options.user);
  if (options.token) {
    args.push('--token-realm', options.token.realm, '--token-service', options.token.service,
      '--token-issuer', options.token.issuer, '--token-root-cert', options.token.rootCert);
  }
  const child = spawn(join(here, 'start.sh'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`registry did not start: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`registry exited (${code}): ${stderr}`)); });
  });
  let stopped = false;
  return {
    address,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Self-signed certificate for 127.0.0.1/localhost (openssl), in a temp dir. */
export async function makeTlsCertificate(): Promise<{ dir: string; cert: string; key: string; pem: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-tls-'));
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await execFileP('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=portcullis-test-registry', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', key, '-out', cert,
  ]);
  return { dir, cert, key, pem: await readFile(cert, 'utf8'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface CraneOptions {
  /** Docker config dir holding credentials (for the auth registry). */
  dockerConfig?: string;
  /** Talk plain http / skip TLS verification (crane --insecure). */
  insecure?: boolean;
}

export async function crane(args: string[], options: CraneOptions = {}): Promise<string> {
  const env = { ...process.env };
  if (options.dockerConfig) env.DOCKER_CONFIG = options.dockerConfig;
  const full = options.insecure ? [...args, '--insecure'] : args;
  const { stdout } = await execFileP(toolPath('crane'), full, { env, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/**
 * Push a one-layer image with unique content to `ref` (e.g. `127.0.0.1:5000/test/app:v1`)
 * and return its digest. `platform` sets os/arch in the config (for index tests).
 */
export async function pushImage(ref: string, options: CraneOptions & { platform?: string; content?: string } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-img-'));
  try {
    const file = join(dir, 'hello.txt');
    await writeFile(file, options.content ?? `portcullis ${ref} ${process.hrtime.bigint()}\n`);
    await execFileP('tar', ['-C', dir, '-cf', join(dir, 'layer.tar'), 'hello.txt']);
    await crane(['append', '-f', join(dir, 'layer.tar'), '-t', ref], options);
    if (options.platform) {
      await crane(['mutate', ref, '--set-platform', options.platform, '-t', ref], options);
    }
    return await crane(['digest', ref], options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A docker config dir with basic credentials for `host`. */
export async function dockerConfigFor(host: string, user: string, password: string): Promise<{ dir: string; json: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-docker-'));
  const json = JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } });
  await writeFile(join(dir, 'config.json'), json);
  return { dir, json, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Upload a blob to a plain-http registry with the distribution API (monolithic upload); returns its digest. */
export async function putBlob(address: string, repository: string, data: Buffer | string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const digest = 'sha256:' + createHash('sha256').update(body).digest('hex');
  const start = await fetch(`http://${address}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location')!, `http://${address}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
  return digest;
}

/** PUT a manifest (object) under `reference` on a plain-http registry; returns its digest. */
export async function putManifest(address: string, repository: string, reference: string, manifest: object): Promise<string> {
  const { createHash } = await import('node:crypto');
  const body = Buffer.from(JSON.stringify(manifest));
  const mediaType = (manifest as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  const res = await fetch(`http://${address}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`manifest put: HTTP ${res.status} ${await res.text()}`);
  return 'sha256:' + createHash('sha256').update(body).digest('hex');
}

/** GET a manifest as JSON from a plain-http registry. */
export async function getManifestJson(address: string, repository: string, reference: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${address}/v2/${repository}/manifests/${reference}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (res.status !== 200) throw new Error(`manifest get: HTTP ${res.status}`);
  return await res.json() as Record<string, unknown>;
}
