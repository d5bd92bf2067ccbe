/**
 * `portcullis test` end to end (real loader, compiler and engine) on the Test
 * inputs that shape the admission request or the cluster a policy sees:
 * `oldResources` and a row's `resourceOperation`, Values that set
 * `request.object…`, `cloneSourceResource` for generate `clone`/`cloneList`,
 * and a ValidatingAdmissionPolicy's user info and params.
 */
import t from 'tap';
import { join } from 'node:path';
import { runTestFile } from '../../src/cli/test/run.ts';
import type { ResultRow } from '../../src/cli/test/match.ts';

const rowsOf = (rows: ResultRow[]) => rows.map((r) => ({ policy: r.policy, resource: r.resource, result: r.result, reason: r.reason }));

const pod = (name: string, env: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    env: ${env}
spec:
  containers:
  - name: app
    image: nginx
`;

t.test('oldResources are the old object of an UPDATE, and a row\'s resourceOperation admits its resources with that operation', async (t) => {
  const dir = t.testdir({
    'policies.yaml': `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: no-label-changes
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [pods]}
  validations:
  - expression: "oldObject.metadata.labels == object.metadata.labels"
    message: labels are immutable
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: keep-production
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [DELETE], resources: [pods]}
  validations:
  - expression: "oldObject.metadata.labels.env != 'production'"
    message: production pods stay
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: create-only-staging
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "object.metadata.labels.env == 'staging'"
    message: only staging pods are created here
`,
    'resources.yaml': `${pod('relabelled', 'staging')}---\n${pod('unchanged', 'qa')}---\n${pod('prod', 'production')}`,
    'old.yaml': `${pod('relabelled', 'production')}---\n${pod('unchanged', 'qa')}`,
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: operations
policies: [policies.yaml]
resources: [resources.yaml]
oldResources: [old.yaml]
results:
- {policy: no-label-changes, kind: Pod, resources: [relabelled], resourceOperation: UPDATE, result: fail}
- {policy: no-label-changes, kind: Pod, resources: [unchanged], resourceOperation: UPDATE, result: pass}
- {policy: keep-production, kind: Pod, resources: [prod], resourceOperation: DELETE, result: fail}
- {policy: create-only-staging, kind: Pod, resources: [prod], result: fail}
- {policy: create-only-staging, kind: Pod, resources: [relabelled], resourceOperation: CREATE, result: pass}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { policy: 'no-label-changes', resource: 'Pod/relabelled', result: 'Pass', reason: 'Ok' },
    { policy: 'no-label-changes', resource: 'Pod/unchanged', result: 'Pass', reason: 'Ok' },
    { policy: 'keep-production', resource: 'Pod/prod', result: 'Pass', reason: 'Ok' },
    { policy: 'create-only-staging', resource: 'Pod/prod', result: 'Pass', reason: 'Ok' },
    { policy: 'create-only-staging', resource: 'Pod/relabelled', result: 'Pass', reason: 'Ok' },
  ]);
  t.same(report.rows.map((r) => r.id), [1, 2, 3, 4, 5], 'rows keep the Test\'s order');
});

t.test('Values that set request.object fields change the resource the rules see', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: platform-roles
spec:
  validationFailureAction: Enforce
  rules:
  - name: marked
    match:
      any:
      - resources:
          kinds: [Role]
    validate:
      message: platform roles carry the annotation
      pattern:
        metadata:
          annotations:
            platform: "true"
  - name: only-annotated
    match:
      any:
      - resources:
          kinds: [Role]
          annotations:
            platform: "true"
    validate:
      message: no rules
      deny: {}
`,
    'role.yaml': `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ops
  namespace: default
rules: []
`,
    'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
globalValues:
  request.object.metadata.annotations.platform: "true"
`,
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: injected
policies: [policy.yaml]
resources: [role.yaml]
variables: values.yaml
results:
- {policy: platform-roles, rule: marked, kind: Role, resources: [ops], result: pass}
- {policy: platform-roles, rule: only-annotated, kind: Role, resources: [ops], result: fail}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { policy: 'platform-roles', resource: 'Role/ops', result: 'Pass', reason: 'Ok' },
    { policy: 'platform-roles', resource: 'Role/ops', result: 'Pass', reason: 'Ok' },
  ], 'the pattern sees the annotation, and match selects the Role by it');
});

t.test('cloneSourceResource answers generate clone and cloneList', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: seed-namespace
spec:
  rules:
  - name: copy-regcred
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      apiVersion: v1
      kind: Secret
      name: regcred
      namespace: "{{request.object.metadata.name}}"
      clone:
        namespace: default
        name: regcred
  - name: copy-shared
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      namespace: "{{request.object.metadata.name}}"
      cloneList:
        namespace: default
        kinds: [v1/ConfigMap]
        selector:
          matchLabels:
            share: "yes"
`,
    'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n',
    'sources.yaml': `apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: default
  uid: 1234
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: e30=
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  namespace: default
  labels:
    share: "yes"
data:
  region: eu
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: private
  namespace: default
data:
  secret: no
`,
    'regcred.yaml': `apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: team-a
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: e30=
`,
    'shared.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  namespace: team-a
  labels:
    share: "yes"
data:
  region: eu
`,
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: clones
policies: [policy.yaml]
resources: [ns.yaml]
results:
- {policy: seed-namespace, rule: copy-regcred, kind: Namespace, resources: [team-a], result: pass, generatedResource: regcred.yaml, cloneSourceResource: sources.yaml}
- {policy: seed-namespace, rule: copy-shared, kind: Namespace, resources: [team-a], result: pass, generatedResource: shared.yaml, cloneSourceResource: sources.yaml}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { policy: 'seed-namespace', resource: 'Namespace/team-a', result: 'Pass', reason: 'Ok' },
    { policy: 'seed-namespace', resource: 'Namespace/team-a', result: 'Pass', reason: 'Ok' },
  ], 'the clone keeps the source\'s content in the new namespace; cloneList copies only the selected kind and labels');
});

t.test('a ValidatingAdmissionPolicy sees the Test\'s user info and its binding\'s params', async (t) => {
  const deployment = (name: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: default
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
`;
  const dir = t.testdir({
    'policies.yaml': `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: max-replicas
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
    message: too many replicas
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: max-replicas-binding
spec:
  policyName: max-replicas
  validationActions: [Deny]
  paramRef: {name: replica-limit, namespace: default, parameterNotFoundAction: Deny}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: named-users
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "request.userInfo.username == 'alice'"
    message: only alice deploys
`,
    'resources.yaml': `${deployment('small', 2)}---\n${deployment('large', 9)}`,
    'params.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: replica-limit\n  namespace: default\ndata:\n  maxReplicas: "3"\n',
    'user.yaml': 'apiVersion: cli.kyverno.io/v1alpha1\nkind: UserInfo\nmetadata:\n  name: u\nuserInfo:\n  username: alice\n',
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: vap
policies: [policies.yaml]
resources: [resources.yaml]
paramResources: [params.yaml]
userinfo: user.yaml
results:
- {policy: max-replicas, isValidatingAdmissionPolicy: true, kind: Deployment, resources: [small], result: pass}
- {policy: max-replicas, isValidatingAdmissionPolicy: true, kind: Deployment, resources: [large], result: fail}
- {policy: named-users, isValidatingAdmissionPolicy: true, kind: Deployment, resources: [small], result: pass}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { policy: 'max-replicas', resource: 'Deployment/small', result: 'Pass', reason: 'Ok' },
    { policy: 'max-replicas', resource: 'Deployment/large', result: 'Pass', reason: 'Ok' },
    { policy: 'named-users', resource: 'Deployment/small', result: 'Pass', reason: 'Ok' },
  ]);
});

t.test('foreachValues give each foreach element its values, in the list form (per block) and the older single map', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: per-container
spec:
  validationFailureAction: Enforce
  rules:
  - name: allowed-images
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: image not allowed
      foreach:
      - list: request.object.spec.containers
        context:
        - name: allowed
          apiCall:
            urlPath: "/api/v1/namespaces/default/configmaps/{{ element.name }}"
            jmesPath: data.image
        deny:
          conditions:
            any:
            - key: "{{ element.image }}"
              operator: NotEquals
              value: "{{ allowed }}"
  - name: pin-digests
    match:
      any:
      - resources:
          kinds: [Pod]
    mutate:
      foreach:
      - list: request.object.spec.containers
        context:
        - name: digest
          apiCall:
            urlPath: "/digests/{{ element.image }}"
            jmesPath: digest
        patchStrategicMerge:
          spec:
            containers:
            - name: "{{ element.name }}"
              image: "{{ element.image }}@{{ digest }}"
`,
    'pod.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  containers:
  - name: app
    image: nginx
  - name: cache
    image: redis
`,
    'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
policies:
- name: per-container
  rules:
  - name: allowed-images
    foreachValues:
    # Validation sees the mutated Pod: the images pinned by the other rule.
    - allowed: ["nginx@sha256:aaa", "redis@sha256:bbb"]
  - name: pin-digests
    foreachValues:
      digest: ["sha256:aaa", "sha256:bbb"]
`,
    'patched.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  containers:
  - name: app
    image: nginx@sha256:aaa
  - name: cache
    image: redis@sha256:bbb
`,
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: foreach-values
policies: [policy.yaml]
resources: [pod.yaml]
variables: values.yaml
results:
- {policy: per-container, rule: allowed-images, kind: Pod, resources: [web], result: pass}
- {policy: per-container, rule: pin-digests, kind: Pod, resources: [web], result: pass, patchedResources: patched.yaml}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(report.warnings, [], 'no warning: foreachValues are used');
  t.same(rowsOf(report.rows), [
    { policy: 'per-container', resource: 'Pod/web', result: 'Pass', reason: 'Ok' },
    { policy: 'per-container', resource: 'Pod/web', result: 'Pass', reason: 'Ok' },
  ]);
});

t.test('foreachValues belong to their rule: per foreach block, inherited by its autogen rules, not pinned for other rules', async (t) => {
  const template = `containers:
    - {name: app, image: nginx}
    - {name: cache, image: redis}
    initContainers:
    - {name: init, image: busybox}`;
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: images
spec:
  validationFailureAction: Enforce
  rules:
  - name: per-element
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: image not allowed
      foreach:
      - list: request.object.spec.containers
        context:
        - name: allowed
          apiCall: {urlPath: "/allowed/{{ element.name }}", jmesPath: image}
        deny:
          conditions:
            any:
            - {key: "{{ element.image }}", operator: NotEquals, value: "{{ allowed }}"}
      - list: request.object.spec.initContainers
        context:
        - name: allowed
          apiCall: {urlPath: "/allowed/{{ element.name }}", jmesPath: image}
        deny:
          conditions:
            any:
            - {key: "{{ element.image }}", operator: NotEquals, value: "{{ allowed }}"}
  - name: own-context
    match:
      any:
      - resources:
          kinds: [Pod]
    context:
    - name: allowed
      variable: {value: nginx}
    validate:
      message: "allowed is {{ allowed }}"
      deny:
        conditions:
          any:
          - {key: "{{ allowed }}", operator: NotEquals, value: nginx}
`,
    'resources.yaml': `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  ${template.replace(/\n {4}/g, '\n  ')}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      ${template.replace(/\n {4}/g, '\n      ')}
`,
    'values.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Values
policies:
- name: images
  rules:
  - name: per-element
    foreachValues:
    - allowed: [nginx, redis]
    - allowed: [busybox]
`,
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: foreach-values-scope
policies: [policy.yaml]
resources: [resources.yaml]
variables: values.yaml
results:
- {policy: images, rule: per-element, kind: Pod, resources: [web], result: pass}
- {policy: images, rule: per-element, kind: Deployment, resources: [web], result: pass}
- {policy: images, rule: own-context, kind: Pod, resources: [web], result: pass}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [
    { policy: 'images', resource: 'Pod/web', result: 'Pass', reason: 'Ok' },
    { policy: 'images', resource: 'Deployment/web', result: 'Pass', reason: 'Ok' },
    { policy: 'images', resource: 'Pod/web', result: 'Pass', reason: 'Ok' },
  ], 'block 1 reads the second map; the autogen rule inherits the values; the other rule loads its own `allowed`');
});

t.test('a cluster-scoped clone source (no namespace) is found by a clone that names none', async (t) => {
  const dir = t.testdir({
    'policy.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: tenant-role
spec:
  rules:
  - name: copy-role
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRole
      name: "{{request.object.metadata.name}}-viewer"
      clone:
        name: viewer-template
`,
    'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n',
    'source.yaml': 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: viewer-template\nrules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [get]\n',
    'expected.yaml': 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: team-a-viewer\nrules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [get]\n',
    'kyverno-test.yaml': `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: cluster-clone
policies: [policy.yaml]
resources: [ns.yaml]
results:
- {policy: tenant-role, rule: copy-role, kind: Namespace, resources: [team-a], result: pass, generatedResource: expected.yaml, cloneSourceResource: source.yaml}
`,
  });
  const report = await runTestFile(join(dir, 'kyverno-test.yaml'));
  t.equal(report.error, undefined);
  t.same(rowsOf(report.rows), [{ policy: 'tenant-role', resource: 'Namespace/team-a', result: 'Pass', reason: 'Ok' }]);
});
