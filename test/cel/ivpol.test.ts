/**
 * ImageValidatingPolicy without a registry: scoping (matchConstraints,
 * matchConditions, matchImageReferences, exceptions, autogen), the `images`
 * / `attestors` / `attestations` bindings, result shapes, validationConfigurations,
 * and the verification functions against a scripted registry client
 * (unsigned images, unreachable registries). Real signatures: test/images/ivpol.e2e.test.ts.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { compileImageValidatingPolicy, compileGlob } from '../../src/cel/ivpol.ts';
import { convertAttestor } from '../../src/cel/lib/image-verify.ts';
import { compileCelPolicy, CelPolicyCompileError } from '../../src/cel/index.ts';
import { RegistryError } from '../../src/images/registry/errors.ts';
import type { RegistryClient } from '../../src/images/registry/client.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';

function input(object: KubeObject, extra: Partial<AdmissionInput> = {}): AdmissionInput {
  const [group, version] = (object.apiVersion ?? 'v1').includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion ?? 'v1'];
  return {
    operation: 'CREATE', object, oldObject: null, kind: { group: group!, version: version!, kind: object.kind! },
    namespace: object.metadata?.namespace ?? 'default', userInfo: {}, roles: [], clusterRoles: [], ...extra,
  };
}
const containers = (...images: string[]) => images.map((image, i) => ({ name: `c${i}`, image }));
const pod = (images: string[], init: string[] = [], labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns1', labels },
  spec: { containers: containers(...images), ...(init.length > 0 ? { initContainers: containers(...init) } : {}) },
});
const deploy = (images: string[]): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns1' },
  spec: { template: { spec: { containers: containers(...images) } } },
});
const cron = (images: string[]): KubeObject => ({
  apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj', namespace: 'ns1' },
  spec: { jobTemplate: { spec: { template: { spec: { containers: containers(...images) } } } } },
});
const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const policy = (spec: JsonObject = {}, kind = 'ImageValidatingPolicy', name = 'check-images'): JsonObject => ({
  apiVersion: 'policies.kyverno.io/v1', kind, metadata: { name, namespace: 'ns1' },
  spec: {
    validationActions: ['Deny'],
    matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
    matchImageReferences: [{ glob: 'ghcr.io/acme/*' }],
    attestors: [{ name: 'cosign', cosign: { key: { data: PEM }, ctlog: { insecureIgnoreTlog: true } } }],
    ...spec,
  },
});
const allSigned = "images.containers.map(i, verifyImageSignatures(i, [attestors.cosign])).all(n, n > 0)";

/** A scripted registry: every tag resolves to a digest, no signature exists (or the registry is down). */
function fakeClient(mode: 'unsigned' | 'down') {
  const calls: string[] = [];
  const client = {
    async resolveDigest(ref: { host: string; repository: string }) {
      calls.push(`resolve ${ref.host}/${ref.repository}`);
      if (mode === 'down') throw new RegistryError('network', `GET https://${ref.host}/v2/: connection refused`);
      return `sha256:${'a'.repeat(64)}`;
    },
    async getManifest(repo: { repository: string }, reference: string) {
      calls.push(`manifest ${repo.repository}:${reference}`);
      throw new RegistryError('not-found', 'MANIFEST_UNKNOWN');
    },
    async getReferrers() {
      return [];
    },
  };
  return { client: client as unknown as RegistryClient, calls };
}

t.test('compileCelPolicy dispatches both kinds to an asynchronous validating policy', async (t) => {
  const c = compileCelPolicy(policy({ validations: [{ expression: 'true' }], validationConfigurations: { required: false } }));
  t.equal(c.type, 'validating');
  const r = c.policy.evaluate(input(pod(['ghcr.io/acme/app:1'])));
  t.ok(r instanceof Promise);
  t.same(await r, [{ rule: 'check-images', status: 'pass', message: 'success' }]);
  const ns = compileCelPolicy(policy({ validations: [{ expression: 'true' }], validationConfigurations: { required: false } }, 'NamespacedImageValidatingPolicy'));
  t.equal(ns.policy.namespace, 'ns1');
  t.same(await ns.policy.evaluate(input({ ...pod(['ghcr.io/acme/app:1']), metadata: { name: 'p', namespace: 'other' } }, { namespace: 'other' })), [],
    'a namespaced policy ignores other namespaces');
});

t.test('images: default extractors filtered by matchImageReferences; custom extractors; expression matchers', async (t) => {
  const p = compileImageValidatingPolicy(policy({
    validationConfigurations: { required: false },
    validations: [
      { expression: "images.containers == ['ghcr.io/acme/app:1']", message: 'containers' },
      { expression: "images.initContainers == ['ghcr.io/acme/init:1'] && images.ephemeralContainers == []", message: 'init' },
    ],
  }));
  t.same(await p.evaluate(input(pod(['ghcr.io/acme/app:1', 'docker.io/nginx:1'], ['ghcr.io/acme/init:1']))), [{ rule: 'check-images', status: 'pass', message: 'success' }]);

  const custom = compileImageValidatingPolicy(policy({
    matchImageReferences: [{ expression: "ref.startsWith('quay.io/')" }, { glob: 'ghcr.io/{team,acme}/app:[0-9]' }],
    images: [{ name: 'sidecars', expression: "object.metadata.?annotations['sidecar'].orValue('').split(',')" }],
    validationConfigurations: { required: false },
    validations: [{ expression: "images.sidecars == ['quay.io/x:1'] && images.containers == ['ghcr.io/team/app:2']" }],
  }));
  const annotated = pod(['ghcr.io/team/app:2', 'ghcr.io/team/app:latest']);
  annotated.metadata!.annotations = { sidecar: 'quay.io/x:1,docker.io/y:1' };
  t.same(await custom.evaluate(input(annotated)), [{ rule: 'check-images', status: 'pass', message: 'success' }]);
});

t.test('validations: first failing message, messageExpression, default message, evaluation errors', async (t) => {
  const run = async (validations: JsonObject[]) =>
    compileImageValidatingPolicy(policy({ validations, validationConfigurations: { required: false } })).evaluate(input(pod(['ghcr.io/acme/app:1'])));
  t.same(await run([{ expression: 'true' }, { expression: 'false', message: 'second' }, { expression: 'false', message: 'third' }]),
    [{ rule: 'check-images', status: 'fail', message: 'second', validationIndex: 1 }]);
  t.same(await run([{ expression: 'false', messageExpression: "'bad: ' + images.containers[0]" }]),
    [{ rule: 'check-images', status: 'fail', message: 'bad: ghcr.io/acme/app:1', validationIndex: 0 }]);
  t.same(await run([{ expression: 'false' }]), [{ rule: 'check-images', status: 'fail', message: 'CEL expression validation failed at index 0', validationIndex: 0 }]);
  t.same(await run([{ expression: 'object.spec.nothing == 1' }]),
    [{ rule: 'evaluation', status: 'error', message: 'failed to evaluate policy: no such key: nothing' }]);
});

t.test('variables, attestors with expressions and attestation names are bound', async (t) => {
  const p = compileImageValidatingPolicy(policy({
    variables: [{ name: 'key', expression: "'KEY-' + object.metadata.name" }],
    attestors: [{ name: 'dynamic', cosign: { key: { expression: 'variables.key' } } }],
    attestations: [{ name: 'sbom', intoto: { type: 'https://cyclonedx.org/bom' } }],
    validationConfigurations: { required: false },
    validations: [{ expression: "attestors.dynamic.cosign.key.data == 'KEY-p' && attestations.sbom == 'sbom' && variables.key == 'KEY-p'" }],
  }));
  t.same(await p.evaluate(input(pod(['ghcr.io/acme/app:1']))), [{ rule: 'check-images', status: 'pass', message: 'success' }]);
});

t.test('required (default): a matched image nobody verified fails after the validations pass', async (t) => {
  const p = compileImageValidatingPolicy(policy({ validations: [{ expression: 'true' }] }));
  t.same(await p.evaluate(input(pod(['ghcr.io/acme/app:1']))), [{
    rule: 'check-images', status: 'fail', message: 'image ghcr.io/acme/app:1 is not verified: no policy performed a signature or attestation check on it',
  }]);
  t.same(await p.evaluate(input(pod(['docker.io/nginx:1']))), [{ rule: 'check-images', status: 'pass', message: 'success' }],
    'no matched image, nothing required');
});

t.test('verifyImageSignatures against an unsigned image: 0 verified, the policy message; required names the image', async (t) => {
  const { client, calls } = fakeClient('unsigned');
  const p = compileImageValidatingPolicy(policy({ validations: [{ expression: allSigned, message: 'failed to verify image signature' }] }));
  t.same(await p.evaluate(input(pod(['ghcr.io/acme/unsigned:1'])), { images: { client } }),
    [{ rule: 'check-images', status: 'fail', message: 'failed to verify image signature', validationIndex: 0 }]);
  t.same(calls, ['resolve ghcr.io/acme/unsigned', `manifest acme/unsigned:sha256-${'a'.repeat(64)}.sig`], 'one registry round for the image');

  const lenient = compileImageValidatingPolicy(policy({ validations: [{ expression: "verifyImageSignatures(images.containers[0], [attestors.cosign]) >= 0" }] }));
  t.same(await lenient.evaluate(input(pod(['ghcr.io/acme/unsigned2:1'])), { images: { client } }),
    [{ rule: 'check-images', status: 'fail', message: 'image ghcr.io/acme/unsigned2:1 failed signature or attestation verification' }]);
});

t.test('images outside matchImageReferences count 0 without a registry call', async (t) => {
  const { client, calls } = fakeClient('unsigned');
  const p = compileImageValidatingPolicy(policy({
    validationConfigurations: { required: false },
    validations: [{ expression: "verifyImageSignatures('docker.io/nginx:1', [attestors.cosign]) == 0" }],
  }));
  t.same(await p.evaluate(input(pod(['ghcr.io/acme/app:1'])), { images: { client } }), [{ rule: 'check-images', status: 'pass', message: 'success' }]);
  t.same(calls, []);
});

t.test('an unreachable registry is an evaluation error', async (t) => {
  const { client } = fakeClient('down');
  const p = compileImageValidatingPolicy(policy({ validations: [{ expression: allSigned, message: 'unsigned' }] }));
  const [r] = await p.evaluate(input(pod(['ghcr.io/acme/down:1'])), { images: { client } });
  t.equal(r!.rule, 'evaluation');
  t.equal(r!.status, 'error');
  t.match(r!.message, /^failed to evaluate policy: failed to get imagedata: failed to verify image ghcr\.io\/acme\/down:1: .*connection refused/);
});

t.test('attestation functions: unknown names, payload before verification, notary', async (t) => {
  const { client } = fakeClient('unsigned');
  const run = (expression: string, spec: JsonObject = {}) => compileImageValidatingPolicy(policy({
    attestations: [{ name: 'sbom', intoto: { type: 'https://cyclonedx.org/bom' } }],
    validationConfigurations: { required: false }, validations: [{ expression }], ...spec,
  })).evaluate(input(pod(['ghcr.io/acme/att:1'])), { images: { client } });
  t.same(await run("verifyAttestationSignatures(images.containers[0], 'nope', [attestors.cosign]) > 0"),
    [{ rule: 'evaluation', status: 'error', message: 'failed to evaluate policy: attestation not found in policy: nope' }]);
  t.same(await run("extractPayload(images.containers[0], attestations.sbom).bomFormat == 'CycloneDX'"),
    [{ rule: 'evaluation', status: 'error', message: 'failed to evaluate policy: failed to get payload: intoto attestation payload cannot be fetch before verifying intoto attestation' }]);
  t.same(await run("verifyAttestationSignatures(images.containers[0], attestations.sbom, [attestors.cosign]) == 0"),
    [{ rule: 'check-images', status: 'pass', message: 'success' }], 'no attestation: 0 attestors verified it');
  t.same(await run('verifyImageSignatures(images.containers[0], [attestors.n]) > 0', { attestors: [{ name: 'n', notary: { certs: { value: 'x' } } }] }),
    [{ rule: 'evaluation', status: 'error', message: 'failed to evaluate policy: attestor n: notary attestors are not supported' }]);
});

t.test('verifyDigest applies with mutateDigest: false (validate-only: no digest patches)', async (t) => {
  const p = compileImageValidatingPolicy(policy({ validationConfigurations: { mutateDigest: false, required: false }, validations: [{ expression: 'true' }] }));
  t.same(await p.evaluate(input(pod(['ghcr.io/acme/app:1']))), [{ rule: 'check-images', status: 'fail', message: 'image ghcr.io/acme/app:1 does not have a digest' }]);
  t.same(await p.evaluate(input(pod([`ghcr.io/acme/app@sha256:${'b'.repeat(64)}`]))), [{ rule: 'check-images', status: 'pass', message: 'success' }]);
  const pinned = compileImageValidatingPolicy(policy({ validationConfigurations: { required: false }, validations: [{ expression: 'true' }] }));
  t.same(await pinned.evaluate(input(pod(['ghcr.io/acme/app:1']))), [{ rule: 'check-images', status: 'pass', message: 'success' }],
    'with mutateDigest (default) the tag is taken as pinned');
});

t.test('mutateDigest: patches pinning matched tags to their digest (for the engine\'s mutate phase)', async (t) => {
  const { client } = fakeClient('unsigned');
  const D = `sha256:${'a'.repeat(64)}`;
  const p = compileImageValidatingPolicy(policy({ validations: [{ expression: 'true' }] }));
  const pinnedAlready = `ghcr.io/acme/pinned@sha256:${'b'.repeat(64)}`;
  t.same(await p.mutateDigest(input(pod(['ghcr.io/acme/app:1', 'docker.io/nginx:1', pinnedAlready])), { images: { client } }), {
    patches: [{ op: 'replace', path: '/spec/containers/0/image', value: `ghcr.io/acme/app:1@${D}` }], results: [],
  });
  t.same((await p.mutateDigest(input(deploy(['ghcr.io/acme/app:1'])), { images: { client } })).patches,
    [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `ghcr.io/acme/app:1@${D}` }]);
  const off = compileImageValidatingPolicy(policy({ validationConfigurations: { mutateDigest: false }, validations: [{ expression: 'true' }] }));
  t.same(await off.mutateDigest(input(pod(['ghcr.io/acme/app:1'])), { images: { client } }), { patches: [], results: [] });
  const down = fakeClient('down');
  const r = await p.mutateDigest(input(pod(['ghcr.io/acme/app:1'])), { images: { client: down.client } });
  t.same(r.patches, []);
  t.match(r.results, [{ rule: 'mutateDigest', status: 'error', message: /^failed to update digest: failed to resolve digest for image ghcr\.io\/acme\/app:1: .*connection refused/ }]);
});

t.test('matchConditions, failurePolicy and CEL PolicyExceptions', async (t) => {
  const spec = { validationConfigurations: { required: false }, validations: [{ expression: 'false', message: 'denied' }] };
  const cond = compileImageValidatingPolicy(policy({ ...spec, matchConditions: [{ name: 'labelled', expression: "object.metadata.?labels.check.orValue('') == 'yes'" }] }));
  t.same(await cond.evaluate(input(pod(['ghcr.io/acme/app:1']))), [], 'matchConditions not met: no result');
  t.same(await cond.evaluate(input(pod(['ghcr.io/acme/app:1'], [], { check: 'yes' }))), [{ rule: 'check-images', status: 'fail', message: 'denied', validationIndex: 0 }]);
  const broken = { ...spec, matchConditions: [{ name: 'broken', expression: 'object.nothing' }] };
  t.same(await compileImageValidatingPolicy(policy(broken)).evaluate(input(pod(['ghcr.io/acme/app:1']))),
    [{ rule: 'evaluation', status: 'error', message: 'failed to evaluate policy: no such key: nothing' }]);
  t.same(await compileImageValidatingPolicy(policy({ ...broken, failurePolicy: 'Ignore' })).evaluate(input(pod(['ghcr.io/acme/app:1']))), []);

  const exception: JsonObject = {
    apiVersion: 'policies.kyverno.io/v1', kind: 'PolicyException', metadata: { name: 'allow', namespace: 'ns1' },
    spec: { policyRefs: [{ name: 'check-images', kind: 'ImageValidatingPolicy' }], matchConditions: [{ name: 'ns', expression: "object.metadata.namespace == 'ns1'" }] },
  };
  t.same(await compileImageValidatingPolicy(policy(spec), [exception]).evaluate(input(pod(['ghcr.io/acme/app:1']))),
    [{ rule: 'exception', status: 'skip', message: 'rule is skipped due to policy exception: ns1/allow' }]);
});

t.test('autogen: pod controllers get the policy with images read from their pod template', async (t) => {
  const p = compileImageValidatingPolicy(policy({
    validationConfigurations: { required: false },
    validations: [{ expression: "images.containers.all(i, i.endsWith(':1'))", message: 'tag 1 only' }],
  }));
  t.same(p.variants, ['', 'autogen-cronjobs', 'autogen']);
  t.same(await p.evaluate(input(deploy(['ghcr.io/acme/app:2']))), [{ rule: 'check-images', status: 'fail', message: 'tag 1 only', validationIndex: 0, variant: 'autogen' }]);
  t.same(await p.evaluate(input(deploy(['ghcr.io/acme/app:1']))), [{ rule: 'check-images', status: 'pass', message: 'success', variant: 'autogen' }]);
  t.same(await p.evaluate(input(cron(['ghcr.io/acme/app:2']))), [{ rule: 'check-images', status: 'fail', message: 'tag 1 only', validationIndex: 0, variant: 'autogen-cronjobs' }]);
  const only = compileImageValidatingPolicy(policy({ autogen: { podControllers: { controllers: ['deployments'] } }, validations: [{ expression: 'true' }] }));
  t.same(only.variants, ['', 'autogen']);
});

t.test('compile errors are located; globs follow gobwas/glob', async (t) => {
  t.throws(() => compileImageValidatingPolicy(policy({ validations: [{ expression: 'true &&' }] })), CelPolicyCompileError);
  t.throws(() => compileImageValidatingPolicy(policy({ validations: [{ expression: 'true &&' }] })), /^spec\.validations\[0\]\.expression: Invalid value/);
  t.throws(() => compileImageValidatingPolicy(policy({ matchImageReferences: [{ glob: 'ghcr.io/[abc' }] })), /spec\.matchImageReferences\[0\]\.glob/);
  const g = compileGlob('ghcr.io/{acme,team}/app-[!x]?:*');
  t.ok(g('ghcr.io/acme/app-a1:latest'));
  t.ok(g('ghcr.io/team/app-bc:1'));
  t.notOk(g('ghcr.io/other/app-a1:latest'));
  t.notOk(g('ghcr.io/acme/app-x1:latest'));
  t.ok(compileGlob('*')('any/thing:1'), '* crosses slashes (no separators)');
  t.ok(compileGlob('a\\*b')('a*b'));
  t.notOk(compileGlob('a\\*b')('axb'));
  // A glob is policy input: nested alternatives of stars would backtrack exponentially in a
  // backtracking regex engine (this call would not return); RE2 answers in linear time.
  t.notOk(compileGlob('{*a,*a}'.repeat(12) + 'b')('a'.repeat(40)));
  t.ok(compileGlob('line*end')('line\nend'), '* spans newlines, as gobwas/glob does');
});

t.test('attestors translate to src/images attestor sets', async (t) => {
  t.same(convertAttestor({ name: 'k', cosign: { key: { data: PEM, hashAlgorithm: 'sha512' }, ctlog: { insecureIgnoreTlog: true, insecureIgnoreSCT: true }, source: { repository: 'reg/sigs' } } }), {
    set: { entries: [{ keys: { publicKeys: PEM, signatureAlgorithm: 'sha512', rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true } } }] },
    repository: 'reg/sigs',
  });
  t.same(convertAttestor({ name: 'kl', cosign: { keyless: { identities: [{ subject: 'a@x', issuer: 'https://i' }, { subjectRegExp: '.*@y' }], roots: 'ROOTS' } } }).set, {
    count: 1,
    entries: [
      { keyless: { subject: 'a@x', issuer: 'https://i', roots: 'ROOTS', rekor: {}, ctlog: {} } },
      { keyless: { subjectRegExp: '.*@y', roots: 'ROOTS', rekor: {}, ctlog: {} } },
    ],
  });
  t.same(convertAttestor({ name: 'c', cosign: { certificate: { cert: { value: 'CERT' }, certChain: { value: 'CHAIN' } }, ctlog: { rekorPubKey: 'RK' } } }).set, {
    entries: [{ certificates: { cert: 'CERT', certChain: 'CHAIN', rekor: { pubkey: 'RK' }, ctlog: {} } }],
  });
  t.throws(() => convertAttestor({ name: 'n', notary: {} }), /notary attestors are not supported/);
});
