import t from 'tap';
import { compileImageReferences, matchImageReferences, compileImageScope, decideImage, digestPatch } from '../../src/images/match.ts';
import { extractImagesInfo } from '../../src/images/extract.ts';
import { parseImageReference } from '../../src/images/reference.ts';

t.test('wildcard patterns against the Kyverno string form', async (t) => {
  t.ok(matchImageReferences(['ghcr.io/kyverno/*'], 'ghcr.io/kyverno/test-verify-image:signed'));
  t.notOk(matchImageReferences(['ghcr.io/kyverno/*'], 'docker.io/kyverno/x:1'));
  t.ok(matchImageReferences(['docker.io/nginx:1.2?'], 'docker.io/nginx:1.25'));
  t.notOk(matchImageReferences(['docker.io/nginx:1.2?'], 'docker.io/nginx:1.255'));
  t.ok(matchImageReferences(['*'], 'anything'));
  t.notOk(matchImageReferences([], 'docker.io/nginx:latest'), 'empty list matches nothing');
  t.notOk(matchImageReferences(undefined, 'docker.io/nginx:latest'));
  // `nginx` as written is matched through its normalised form.
  t.notOk(matchImageReferences(['nginx*'], parseImageReference('nginx').reference));
  t.ok(matchImageReferences(['docker.io/nginx*'], parseImageReference('nginx').reference));
  t.throws(() => compileImageReferences(['x'.repeat(2000)]));
});

t.test('scope decision: include, skip, ignore; digests replace tags in the matched form', async (t) => {
  const scope = compileImageScope(['ghcr.io/acme/*'], ['ghcr.io/acme/legacy-*']);
  t.equal(decideImage(scope, parseImageReference('ghcr.io/acme/app:1')), 'verify');
  t.equal(decideImage(scope, parseImageReference('ghcr.io/acme/legacy-app:1')), 'skip');
  t.equal(decideImage(scope, parseImageReference('quay.io/acme/app:1')), 'ignore');
  const pinned = compileImageScope(['ghcr.io/acme/app:1*'], undefined);
  t.equal(decideImage(pinned, parseImageReference(`ghcr.io/acme/app:1@sha256:${'a'.repeat(64)}`)), 'ignore',
    'with a digest the tag is not part of the matched string');
});

t.test('mutateDigest patch keeps the tag', async (t) => {
  const images = extractImagesInfo({ kind: 'Pod', spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } });
  const d = `sha256:${'b'.repeat(64)}`;
  t.same(digestPatch(images.containers.c, d), { op: 'replace', path: '/spec/containers/0/image', value: `docker.io/nginx:1.25@${d}` });
});
