import t from 'tap';
import {
  extractImagesInfo, imagesContextValue, imageContextValue, listImages, compileImageExtractors, ImageExtractionError,
} from '../../src/images/extract.ts';
import { parseImageReference } from '../../src/images/reference.ts';
import type { KubeObject } from '../../src/engine/types.ts';

const pod: KubeObject = {
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'myapp' },
  spec: {
    initContainers: [{ name: 'init', image: 'index.docker.io/busybox:v1.2.3' }],
    containers: [{ name: 'nginx', image: 'nginx:latest' }, { name: 'side', image: `ghcr.io/x/y@sha256:${'e'.repeat(64)}` }],
    ephemeralContainers: [{ name: 'ephemeral', image: 'test/nginx:latest' }],
  },
};

t.test('Pod: groups keyed by container name with JSON pointers', async (t) => {
  const images = extractImagesInfo(pod);
  t.same(Object.keys(images).sort(), ['containers', 'ephemeralContainers', 'initContainers']);
  t.match(images.initContainers.init, { registry: 'index.docker.io', name: 'busybox', path: 'busybox', tag: 'v1.2.3', jsonPointer: '/spec/initContainers/0/image' });
  t.match(images.containers.nginx, { registry: 'docker.io', path: 'nginx', tag: 'latest', jsonPointer: '/spec/containers/0/image' });
  t.match(images.containers.side, { registry: 'ghcr.io', path: 'x/y', tag: '', jsonPointer: '/spec/containers/1/image' });
  t.match(images.ephemeralContainers.ephemeral, { registry: 'docker.io', path: 'test/nginx', name: 'nginx', jsonPointer: '/spec/ephemeralContainers/0/image' });
  t.equal(listImages(images).length, 4);
});

t.test('context value mirrors Kyverno JSON (omitempty)', async (t) => {
  const ctx = imagesContextValue(extractImagesInfo(pod))!;
  t.same(ctx.containers, {
    nginx: {
      registry: 'docker.io', name: 'nginx', path: 'nginx', tag: 'latest',
      reference: 'docker.io/nginx:latest', referenceWithTag: 'docker.io/nginx:latest', jsonPointer: '/spec/containers/0/image',
    },
    side: {
      registry: 'ghcr.io', name: 'y', path: 'x/y', digest: `sha256:${'e'.repeat(64)}`,
      reference: `ghcr.io/x/y@sha256:${'e'.repeat(64)}`, referenceWithTag: 'ghcr.io/x/y:', jsonPointer: '/spec/containers/1/image',
    },
  });
  t.equal(imagesContextValue({}), undefined, 'no images → no `images` variable');
  const noReg = imagesContextValue(extractImagesInfo(
    { kind: 'Pod', spec: { containers: [{ name: 'c', image: 'a/b' }] } }, { enableDefaultRegistryMutation: false }))!;
  t.notOk('registry' in (noReg.containers as Record<string, object>).c, 'empty registry omitted');
  t.same(imageContextValue(parseImageReference('nginx')), {
    reference: 'docker.io/nginx:latest', referenceWithTag: 'docker.io/nginx:latest', registry: 'docker.io',
    path: 'nginx', name: 'nginx', tag: 'latest', digest: '',
  });
});

t.test('pod controllers and CronJob templates', async (t) => {
  const dep = extractImagesInfo({ kind: 'Deployment', spec: { template: { spec: {
    initContainers: [{ name: 'init', image: `fictional.registry.example:10443/imagename:tag@sha256:${'f'.repeat(64)}` }],
    containers: [{ name: 'myapp', image: 'fictional.registry.example:10443/imagename' }],
  } } } });
  t.match(dep.initContainers.init, { registry: 'fictional.registry.example:10443', tag: 'tag', digest: `sha256:${'f'.repeat(64)}`, jsonPointer: '/spec/template/spec/initContainers/0/image' });
  t.match(dep.containers.myapp, { tag: 'latest', jsonPointer: '/spec/template/spec/containers/0/image' });
  for (const kind of ['DaemonSet', 'ReplicaSet', 'ReplicationController', 'StatefulSet', 'Job']) {
    const r = extractImagesInfo({ kind, spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox' }] } } } });
    t.equal(r.containers?.c?.jsonPointer, '/spec/template/spec/containers/0/image', kind);
  }
  const cj = extractImagesInfo({ kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec: {
    containers: [{ name: 'hello', image: 'test.example.com/test/my-app:v2' }] } } } } } });
  t.match(cj.containers.hello, { registry: 'test.example.com', path: 'test/my-app', name: 'my-app', tag: 'v2', jsonPointer: '/spec/jobTemplate/spec/template/spec/containers/0/image' });
});

t.test('kinds without images, empty and missing images', async (t) => {
  t.same(extractImagesInfo({ kind: 'ConfigMap', data: { image: 'nginx' } }), {});
  t.same(extractImagesInfo(null), {});
  t.same(extractImagesInfo({ kind: 'Pod', spec: { containers: [{ name: 'a', image: '  ' }, { name: 'b' }] } }), {});
  t.same(extractImagesInfo({ kind: 'Pod', spec: {} }), {});
});

t.test('errors use Kyverno wording', async (t) => {
  t.throws(() => extractImagesInfo({ kind: 'Pod', spec: { containers: [{ name: 'a', image: '++' }] } }), new ImageExtractionError(
    "invalid image '++' (bad image: docker.io/++, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: invalid reference format)"));
  t.throws(() => extractImagesInfo({ kind: 'Pod', spec: { containers: [{ image: 'nginx' }] } }), { message: 'invalid key' });
  t.throws(() => extractImagesInfo({ kind: 'Pod', spec: { containers: ['nginx'] } }), { message: 'invalid image config' });
  t.throws(() => extractImagesInfo({ kind: 'Pod', spec: { containers: 'nginx' } }), { message: 'invalid type' });
});

t.test('custom imageExtractors', async (t) => {
  const extractors = compileImageExtractors({
    Task: [{ name: 'steps', path: '/spec/steps/*', value: 'image', key: 'name' }],
    Thing: [{ path: '/spec/images/*/ref' }],
    Empty: [],
  });
  const task = extractImagesInfo({ kind: 'Task', spec: { steps: [{ name: 's1', image: 'ghcr.io/a/b:1' }] } }, { extractors });
  t.match(task.steps.s1, { registry: 'ghcr.io', path: 'a/b', jsonPointer: '/spec/steps/0/image' });
  const thing = extractImagesInfo({ kind: 'Thing', spec: { images: [{ ref: 'nginx' }] } }, { extractors });
  t.match(thing.custom['/spec/images/0/ref'], { path: 'nginx', jsonPointer: '/spec/images/0/ref' }, 'no key → keyed by pointer, group "custom"');
  t.throws(() => extractImagesInfo({ kind: 'Empty' }, { extractors }), { message: 'no extractors found for Empty' });
  t.match(extractImagesInfo(pod, { extractors }).containers.nginx, { path: 'nginx' }, 'kinds without custom config use the built-ins');
});
