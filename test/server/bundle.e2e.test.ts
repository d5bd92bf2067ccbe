/**
 * The hardening guides' expectations against the bundled policies/ directory,
 * through the real loader, compiler and engine, over HTTPS — as the apiserver
 * does it: /mutate first, the patch applied, then /validate on the result.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { generateCerts } from '../../src/server/certgen.ts';
import { startServer } from '../../src/server/server.ts';
import { captureLogger, postJson, review } from './fixtures/helpers.ts';

const NS = 'app-production';
const DIGEST = 'sha256:' + 'a'.repeat(64);
const GOOD_IMAGE = `registry.company.com/shop/web@${DIGEST}`;

interface ReviewResponse { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[]; patch?: string; patchType?: string }

async function post(port: number, ca: string, path: string, payload: unknown): Promise<ReviewResponse> {
  const { status, body } = await postJson(port, ca, path, payload);
  try {
    return (JSON.parse(body) as { response: ReviewResponse }).response;
  } catch {
    throw new Error(`HTTP ${status}: ${body}`);
  }
}

function container(overrides: Record<string, unknown> = {}) {
  return { name: 'web', image: GOOD_IMAGE, resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } }, ...overrides };
}

function podWith(name: string, c: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name } }, spec: { containers: [c] } };
}

t.test('bundled policies over HTTPS', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = await generateCerts({ names: ['localhost', '127.0.0.1'] });
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await writeFile(tls.certFile, certs.cert);
  await writeFile(tls.keyFile, certs.key);
  const log = captureLogger('warn');
  const server = await startServer({
    policyPaths: ['policies'], tls, host: '127.0.0.1', port: 0, metricsPort: null, logger: log.logger, watch: false, processMetrics: false,
  });
  t.teardown(() => server.close());
  t.ok(server.store.current, 'the bundle loads and compiles without errors');
  t.ok((server.store.current?.policies.length ?? 0) > 0, 'the bundle has policies');

  let seq = 0;
  /** The apiserver's sequence: mutate, apply the patch, validate the result. */
  async function admit(object: Record<string, unknown>, kind = { group: '', version: 'v1', kind: 'Pod' }) {
    const uid = `e2e-${++seq}`;
    const mutated = await post(server.port, certs.caCert, '/mutate', review({ uid, namespace: NS, kind, object }));
    let patched = object;
    let patch: Operation[] = [];
    if (mutated.patch) {
      patch = JSON.parse(Buffer.from(mutated.patch, 'base64').toString()) as Operation[];
      patched = fastJsonPatch.applyPatch(structuredClone(object), patch, false, false).newDocument;
    }
    const validated = await post(server.port, certs.caCert, '/validate', review({ uid, namespace: NS, kind, object: patched }));
    return { mutated, validated, patch, patched };
  }

  await t.test('a privileged Pod is denied', async (t) => {
    const { validated } = await admit(podWith('priv', container({ securityContext: { privileged: true } })));
    t.equal(validated.allowed, false);
    t.equal(validated.status?.code, 403);
    t.match(validated.status?.message, /privileged/i);
  });

  await t.test('a Pod without limits is denied', async (t) => {
    const { validated } = await admit(podWith('nolimits', { name: 'web', image: GOOD_IMAGE }));
    t.equal(validated.allowed, false);
    t.match(validated.status?.message, /require-resource-limits/);
  });

  await t.test('a Pod from docker.io is denied where the registry allowlist applies', async (t) => {
    const { validated } = await admit(podWith('dockerhub', container({ image: `docker.io/library/nginx@${DIGEST}` })));
    t.equal(validated.allowed, false);
    t.match(validated.status?.message, /restrict-image-registries/);
  });

  await t.test('a tag-only image is denied by the digest policy', async (t) => {
    const { validated } = await admit(podWith('tagged', container({ image: 'registry.company.com/shop/web:1.4.2' })));
    t.equal(validated.allowed, false);
    t.match(validated.status?.message, /require-image-digest/);
  });

  await t.test('an allowed Pod gets the securityContext defaults patch and is then admitted', async (t) => {
    const { mutated, validated, patch, patched } = await admit(podWith('good', container()));
    t.equal(mutated.allowed, true);
    t.equal(mutated.patchType, 'JSONPatch');
    t.ok(patch.some((op) => op.path.includes('securityContext')), 'the patch sets securityContext');
    const spec = patched.spec as { securityContext?: { runAsNonRoot?: boolean }; containers: Array<{ securityContext?: { allowPrivilegeEscalation?: boolean } }> };
    t.equal(spec.securityContext?.runAsNonRoot, true);
    t.equal(spec.containers[0]!.securityContext?.allowPrivilegeEscalation, false);
    t.equal(validated.allowed, true, validated.status?.message ?? 'allowed');
  });

  await t.test('a privileged Deployment is denied through the autogen rules', async (t) => {
    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [container({ securityContext: { privileged: true } })] } } },
    };
    const { validated } = await admit(deployment, { group: 'apps', version: 'v1', kind: 'Deployment' });
    t.equal(validated.allowed, false);
    t.match(validated.status?.message, /autogen-/);
  });
});
