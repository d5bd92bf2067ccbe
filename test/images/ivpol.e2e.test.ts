/**
 * ImageValidatingPolicy end to end: a real loopback registry, images signed
 * and attested by the real cosign CLI (keys and a test CA for keyless), the
 * policy's CEL validations calling verifyImageSignatures /
 * verifyAttestationSignatures / extractPayload through src/images.
 */
import t from 'tap';
import { startRegistry, pushImage } from '../support/registry/harness.ts';
import { generateKeyPair, signImage, attestImage } from '../support/cosign/tools.ts';
import { createTestCA, signWithCertificate } from '../support/cosign/ca.ts';
import { RegistryClient } from '../../src/images/registry/client.ts';
import { closeHttpAgents } from '../../src/images/registry/http.ts';
import { defaultVerificationCache } from '../../src/images/cosign/verify.ts';
import { compileImageValidatingPolicy } from '../../src/cel/ivpol.ts';
import type { AdmissionInput, JsonObject, KubeObject } from '../../src/engine/types.ts';
import type { ImageVerificationConfig } from '../../src/engine/handlers/verify-images.ts';
import { parsePolicyText } from '../../src/policy/load.ts';
import { compilePolicies } from '../../src/policy/compile.ts';
import { Engine } from '../../src/engine/engine.ts';
import { stringify } from 'yaml';

const registry = await startRegistry();
t.teardown(async () => { closeHttpAgents(); await registry.stop(); });
const A = registry.address;
const [key, other, ca] = await Promise.all([generateKeyPair(), generateKeyPair(), createTestCA()]);
t.teardown(async () => { await key.cleanup(); await other.cleanup(); await ca.cleanup(); });

const SUBJECT = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const leaf = await ca.issueLeaf({ name: 'release', san: `URI:${SUBJECT}`, issuer: ISSUER, repository: 'acme/app' });

const ref = (name: string) => `${A}/ivpol/${name}:v1`;
const names = ['signed', 'unsigned', 'wrong', 'cyclonedx', 'spdx', 'keyless', 'cached'] as const;
const digests = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await pushImage(ref(n), { content: n })] as const))) as Record<typeof names[number], string>;
const pinned = (n: typeof names[number]) => `${A}/ivpol/${n}@${digests[n]}`;
await Promise.all([
  signImage(pinned('signed'), key),
  signImage(pinned('wrong'), other),
  signImage(pinned('cached'), key),
  signImage(pinned('cyclonedx'), key),
  attestImage(pinned('cyclonedx'), key, { bomFormat: 'CycloneDX', specVersion: '1.5' }, 'cyclonedx'),
  attestImage(pinned('spdx'), key, { bomFormat: 'SPDX' }, 'cyclonedx'),
  signWithCertificate(pinned('keyless'), leaf),
]);

const client = new RegistryClient({ timeoutMs: 5000, retryDelayMs: 5 });
let clientRequests = 0;
const images: ImageVerificationConfig = { clientFor: () => { clientRequests++; return client; } };

function input(object: KubeObject): AdmissionInput {
  const [group, version] = (object.apiVersion ?? 'v1').includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion ?? 'v1'];
  return { operation: 'CREATE', object, oldObject: null, kind: { group: group!, version: version!, kind: object.kind! }, namespace: 'default', userInfo: {}, roles: [], clusterRoles: [] };
}
const pod = (...imgs: string[]): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app', namespace: 'default' },
  spec: { containers: imgs.map((image, i) => ({ name: `c${i}`, image })) },
});
const ignoreTlog = { insecureIgnoreTlog: true };
const policy = (spec: JsonObject): JsonObject => ({
  apiVersion: 'policies.kyverno.io/v1', kind: 'ImageValidatingPolicy', metadata: { name: 'verify-signed' },
  spec: {
    validationActions: ['Deny'],
    matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
    matchImageReferences: [{ glob: `${A}/ivpol/*` }],
    attestors: [{ name: 'cosign', cosign: { key: { data: key.publicKeyPem }, ctlog: ignoreTlog } }],
    attestations: [{ name: 'sbom', intoto: { type: 'https://cyclonedx.org/bom' } }],
    ...spec,
  },
});
const signatures = compileImageValidatingPolicy(policy({
  validations: [{
    expression: 'images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)',
    message: 'failed to verify image with cosign key',
  }],
}));
const PASS = [{ rule: 'verify-signed', status: 'pass', message: 'success' }];

t.test('a signed image passes; unsigned and wrongly signed ones fail with the policy message', async (t) => {
  t.same(await signatures.evaluate(input(pod(ref('signed'))), { images }), PASS);
  const fail = [{ rule: 'verify-signed', status: 'fail', message: 'failed to verify image with cosign key', validationIndex: 0 }];
  t.same(await signatures.evaluate(input(pod(ref('unsigned'))), { images }), fail);
  t.same(await signatures.evaluate(input(pod(ref('wrong'))), { images }), fail);
  t.same(await signatures.evaluate(input(pod(ref('signed'), ref('wrong'))), { images }), fail, 'every container must verify');
  t.same(await signatures.evaluate(input(pod('docker.io/library/nginx:1'))), PASS, 'images outside matchImageReferences are not checked');
});

t.test('required: an image whose verification failed fails the policy even if the expression tolerates it', async (t) => {
  const lenient = compileImageValidatingPolicy(policy({
    validations: [{ expression: 'images.containers.all(image, verifyImageSignatures(image, [attestors.cosign]) >= 0)' }],
  }));
  t.same(await lenient.evaluate(input(pod(ref('signed'))), { images }), PASS);
  t.same(await lenient.evaluate(input(pod(ref('wrong'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: `image ${ref('wrong')} failed signature or attestation verification` }]);
});

t.test('attestations: verified in-toto statements and conditions on their payload', async (t) => {
  const sbom = compileImageValidatingPolicy(policy({
    validations: [
      { expression: 'images.containers.map(image, verifyAttestationSignatures(image, attestations.sbom, [attestors.cosign])).all(e, e > 0)', message: 'no verified SBOM' },
      { expression: "images.containers.all(image, extractPayload(image, attestations.sbom).bomFormat == 'CycloneDX')", messageExpression: "'SBOM is not CycloneDX'" },
    ],
  }));
  t.same(await sbom.evaluate(input(pod(ref('cyclonedx'))), { images }), PASS);
  t.same(await sbom.evaluate(input(pod(ref('spdx'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: 'SBOM is not CycloneDX', validationIndex: 1 }]);
  t.same(await sbom.evaluate(input(pod(ref('signed'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: 'no verified SBOM', validationIndex: 0 }], 'signed but not attested');
  const wrongKey = compileImageValidatingPolicy(policy({
    attestors: [{ name: 'cosign', cosign: { key: { data: other.publicKeyPem }, ctlog: ignoreTlog } }],
    validations: [{ expression: "verifyAttestationSignatures(images.containers[0], attestations.sbom, [attestors.cosign]) == 1", message: 'attested by someone else' }],
  }));
  t.same(await wrongKey.evaluate(input(pod(ref('cyclonedx'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: 'attested by someone else', validationIndex: 0 }]);
});

t.test('keyless attestor: certificate chained to the configured roots with the wanted identity', async (t) => {
  const keyless = (subject: string) => compileImageValidatingPolicy(policy({
    attestors: [{ name: 'ci', cosign: {
      keyless: { identities: [{ subject, issuer: ISSUER }], roots: ca.rootPem },
      ctlog: { insecureIgnoreTlog: true, insecureIgnoreSCT: true },
    } }],
    validations: [{ expression: 'images.containers.all(image, verifyImageSignatures(image, [attestors.ci]) == 1)', message: 'not signed by the release workflow' }],
  }));
  t.same(await keyless(SUBJECT).evaluate(input(pod(ref('keyless'))), { images }), PASS);
  t.same(await keyless('https://github.com/evil/app').evaluate(input(pod(ref('keyless'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: 'not signed by the release workflow', validationIndex: 0 }]);
});

t.test('autogen: a Deployment is checked through its pod template', async (t) => {
  const deploy = (image: string): KubeObject => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' },
    spec: { template: { spec: { containers: [{ name: 'c', image }] } } },
  });
  t.same(await signatures.evaluate(input(deploy(ref('signed'))), { images }), [{ ...PASS[0], variant: 'autogen' }]);
  t.same(await signatures.evaluate(input(deploy(ref('unsigned'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: 'failed to verify image with cosign key', validationIndex: 0, variant: 'autogen' }]);
});

t.test('getImageData: the image descriptor from the registry', async (t) => {
  const data = compileImageValidatingPolicy(policy({
    validationConfigurations: { required: false },
    validations: [{
      expression: `images.containers.all(image, getImageData(image).digest == '${digests.signed}' && getImageData(image).tag == 'v1' && getImageData(image).resolvedImage == '${pinned('signed')}' && getImageData(image).config.rootfs.type == 'layers')`,
      message: 'unexpected image data',
    }],
  }));
  t.same(await data.evaluate(input(pod(ref('signed'))), { images }), PASS);
  t.same(await data.evaluate(input(pod(ref('unsigned'))), { images }),
    [{ rule: 'verify-signed', status: 'fail', message: 'unexpected image data', validationIndex: 0 }]);
});

t.test('through the engine: the policy document is loaded, compiled and its Promise awaited', async (t) => {
  const loaded = parsePolicyText(stringify(policy({
    validations: [{ expression: 'images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)', message: 'unsigned image' }],
  })), 'ivpol.yaml');
  t.same(loaded.errors, []);
  const { policies, errors } = compilePolicies(loaded.policies);
  t.same(errors, []);
  const engine = new Engine(policies, { images: { client } });
  const rules = async (image: string) => (await engine.evaluate(input(pod(image)), { mode: 'validate' })).results
    .flatMap((p) => p.rules.map((r) => `${p.policy.name} ${r.name} ${r.status} ${r.message}`));
  t.same(await rules(ref('signed')), ['verify-signed verify-signed pass success']);
  t.same(await rules(ref('unsigned')), ['verify-signed verify-signed fail unsigned image']);

  // The mutate phase pins the tag to its digest (mutateDigest defaults to true), and the
  // whole review (mutate then validate) sees and passes the pinned image.
  const mutated = await engine.evaluate(input(pod(ref('signed'))), { mode: 'mutate' });
  t.same(mutated.patches, [{ op: 'replace', path: '/spec/containers/0/image', value: `${ref('signed')}@${digests.signed}` }]);
  t.same(mutated.results.flatMap((p) => p.rules.map((r) => `${r.name} ${r.type} ${r.status}`)), ['mutateDigest Mutation pass']);
  const all = await engine.evaluate(input(pod(ref('signed'))), { mode: 'all' });
  t.equal((all.patchedResource as { spec: { containers: { image: string }[] } }).spec.containers[0]!.image, `${ref('signed')}@${digests.signed}`);
  t.same(all.results.flatMap((p) => p.rules.map((r) => `${r.name} ${r.status}`)), ['mutateDigest pass', 'verify-signed pass']);
});

t.test('mutateDigest resolves the tag to the pushed digest', async (t) => {
  t.same(await signatures.mutateDigest(input(pod(ref('signed'))), { images }),
    { patches: [{ op: 'replace', path: '/spec/containers/0/image', value: `${ref('signed')}@${digests.signed}` }], results: [] });
});

t.test('cache reuse: a verified image is answered from the src/images cache without a registry client', async (t) => {
  const loads = defaultVerificationCache.stats.loads;
  const before = clientRequests;
  t.same(await signatures.evaluate(input(pod(ref('cached'))), { images }), PASS);
  t.equal(defaultVerificationCache.stats.loads, loads + 1, 'first admission verifies once');
  t.equal(clientRequests, before + 1);
  t.same(await signatures.evaluate(input(pod(ref('cached'))), { images }), PASS);
  t.same(await signatures.evaluate(input({ ...pod(ref('cached')), metadata: { name: 'other', namespace: 'default' } }), { images }), PASS);
  t.equal(defaultVerificationCache.stats.loads, loads + 1, 'later admissions reuse the verification');
  t.equal(clientRequests, before + 1, 'and need no registry client at all');
});
