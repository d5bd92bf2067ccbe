/** Realistic admission objects shared by the benchmarks. */
import type { AdmissionInput, KubeObject } from '../src/engine/types.ts';

const digest = 'sha256:4c0f44e5e5b8b4a6ec3f7a0a8e2f1b7d0c6e9b3a2f1e0d9c8b7a6f5e4d3c2b1a';

const container = (name: string, image: string, port?: number) => ({
  name,
  image,
  imagePullPolicy: 'IfNotPresent',
  ...(port ? { ports: [{ containerPort: port, name: 'http', protocol: 'TCP' }] } : {}),
  env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
});

/** A three-container Pod in app-production that every bundled policy admits. */
export function realisticPod(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9f8c6b5-x2k4p',
      namespace: 'app-production',
      labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5', tier: 'frontend' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
    },
    spec: {
      serviceAccountName: 'web',
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        container('web', `registry.company.com/shop/web@${digest}`, 8080),
        container('envoy', `registry.company.com/infra/envoy@${digest}`, 9901),
        container('log-shipper', `gcr.io/my-project/fluent-bit@${digest}`),
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    },
  } as unknown as KubeObject;
}

/** The same workload as a Deployment (autogen rules apply). */
export function realisticDeployment(): KubeObject {
  const pod = realisticPod();
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'app-production', labels: { app: 'web' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: pod.metadata!.labels! }, spec: pod.spec as never },
    },
  } as unknown as KubeObject;
}

export function admissionInput(object: KubeObject): AdmissionInput {
  const [group, version] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  return {
    operation: 'CREATE',
    object,
    oldObject: null,
    kind: { group: group!, version: version!, kind: object.kind! },
    namespace: object.metadata?.namespace,
    name: object.metadata?.name,
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
    roles: [],
    clusterRoles: [],
  };
}
