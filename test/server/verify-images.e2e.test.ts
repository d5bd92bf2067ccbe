/**
 * The seed guide's verify-image-signature and require-image-digest policies over
 * the webhook, against a real docker-registry on loopback and signatures made by
 * the real cosign CLI: signed → digest pinned by /mutate and admitted by
 * /validate; unsigned or signed with another key → denied naming the image and
 * the reason; registry down → the policy's failurePolicy, within the deadline.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { startRegistry, pushImage } from '../support/registry/harness.ts';
import { generateKeyPair, signImage } from '../support/cosign/tools.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { captureLogger, review } from './fixtures/helpers.ts';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;
const [key, otherKey] = await Promise.all([generateKeyPair(), generateKeyPair()]);
t.teardown(() => Promise.all([key.cleanup(), otherKey.cleanup()]).then(() => undefined));

const signed = `${A}/apps/web:1.0`;
const unsigned = `${A}/apps/unsigned:1.0`;
const foreign = `${A}/apps/foreign:1.0`;
const [signedDigest, , foreignDigest] = await Promise.all([signed, unsigned, foreign].map((r) => pushImage(r)));
await Promise.all([
  signImage(`${A}/apps/web@${signedDigest}`, key),
  signImage(`${A}/apps/foreign@${foreignDigest}`, otherKey),
]);

const indent = (pem: string, n: number) => pem.trim().split('\n').map((l) => ' '.repeat(n) + l).join('\n');
const policies = (registryHost: string, failurePolicy: 'Fail' | 'Ignore') => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signature
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  failurePolicy: ${failurePolicy}
  rules:
  - name: check-signature
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaces: [app-production]
    verifyImages:
    - imageReferences:
      - "${registryHost}/*"
      attestors:
      - entries:
        - keys:
            publicKeys: |-
${indent(key.publicKeyPem, 14)}
            rekor:
              ignoreTlog: true
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-image-digest
spec:
  validationFailureAction: Enforce
  rules:
  - name: require-digest
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaces: [app-production]
    validate:
      message: "Images must use a digest (sha256) reference, not a tag."
      pattern:
        spec:
          containers:
          - image: "*@sha256:*"
`;

import { buildApp } from '../../src/server/app.ts';
import { PolicyStore } from '../../src/server/policy-set.ts';

// The app is driven with inject(): TLS is covered by the other server tests; this
// one is about registries and signatures.
async function appWith(text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-vi-'));
  await writeFile(join(dir, 'policies.yaml'), text);
  const store = new PolicyStore({ paths: [dir], budgetMs: 8000 });
  const loaded = await store.reload();
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const app = buildApp({ policies: store, logger: captureLogger('warn').logger });
  return { app, dir, store };
}

const pod = (name: string, image: string) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'app-production' }, spec: { containers: [{ name: 'app', image }] },
});

t.test('verify-image-signature and require-image-digest over the webhook', async (t) => {
  const { app, dir } = await appWith(policies(A, 'Fail'));
  t.teardown(async () => { await app.close(); await rm(dir, { recursive: true, force: true }); });
  let uid = 0;
  async function admit(object: Record<string, unknown>) {
    const id = `vi-${++uid}`;
    const m = await app.inject({ method: 'POST', url: '/mutate', payload: review({ uid: id, namespace: 'app-production', object }) });
    const mutated = m.json().response;
    let patched = object;
    if (mutated.patch) {
      const ops = JSON.parse(Buffer.from(mutated.patch, 'base64').toString()) as Operation[];
      patched = fastJsonPatch.applyPatch(structuredClone(object), ops, false, false).newDocument;
    }
    const v = await app.inject({ method: 'POST', url: '/validate', payload: review({ uid: id, namespace: 'app-production', object: patched }) });
    return { mutated, validated: v.json().response, patched };
  }

  await t.test('a signed image by tag is pinned to its digest and admitted', async (t) => {
    const { mutated, validated, patched } = await admit(pod('signed', signed));
    t.equal(mutated.allowed, true, mutated.status?.message);
    t.equal((patched.spec as any).containers[0].image, `${signed}@${signedDigest}`, 'mutateDigest pinned the verified digest');
    t.equal(validated.allowed, true, validated.status?.message);
  });

  await t.test('an unsigned image is denied, naming the image and the reason', async (t) => {
    const { mutated } = await admit(pod('unsigned', unsigned));
    t.equal(mutated.allowed, false);
    t.match(mutated.status?.message, /verify-image-signature/);
    t.match(mutated.status?.message, new RegExp(`${unsigned.replace(/[.]/g, '\\.')}`));
    t.match(mutated.status?.message, /no signatures found|signature/i);
  });

  await t.test('an image signed with another key is denied', async (t) => {
    const { mutated } = await admit(pod('foreign', foreign));
    t.equal(mutated.allowed, false);
    t.match(mutated.status?.message, /apps\/foreign/);
  });

  await t.test('a tag-only image outside the verified registry is denied by the digest policy', async (t) => {
    const { validated } = await admit(pod('tagged', 'registry.company.com/shop/web:1.4.2'));
    t.equal(validated.allowed, false);
    t.match(validated.status?.message, /require-image-digest/);
  });
});

t.test('registry down: failurePolicy decides, within the deadline', async (t) => {
  const down = '127.0.0.1:9'; // discard port: connection refused
  for (const fp of ['Fail', 'Ignore'] as const) {
    const { app, dir } = await appWith(policies(down, fp));
    const started = Date.now();
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: review({ namespace: 'app-production', object: pod('x', `${down}/apps/web:1.0`) }) });
    const r = res.json().response;
    t.ok(Date.now() - started < 15_000, 'answered within the deadline');
    if (fp === 'Fail') t.equal(r.allowed, false, 'Fail: denied');
    else {
      t.equal(r.allowed, true, 'Ignore: allowed');
      t.ok((r.warnings ?? []).length > 0, 'Ignore: with a warning');
    }
    await app.close();
    await rm(dir, { recursive: true, force: true });
  }
});
