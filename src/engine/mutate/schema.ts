/**
 * The slice of the Kubernetes OpenAPI that strategic merge needs: which lists
 * merge (and by which key) instead of being replaced. Kyverno merges through
 * kustomize (kyaml), which looks the schema up by the resource's
 * apiVersion/kind; lists of kinds it does not know (CRDs) and lists without a
 * `x-kubernetes-patch-strategy: merge` are replaced wholesale.
 */
export interface SchemaNode {
  fields?: Record<string, SchemaNode>;
  items?: SchemaNode;
  /** `merge` patch strategy: an associative list. */
  merge?: boolean;
  /** Merge key; absent on a merging list of scalars (e.g. finalizers). */
  key?: string;
}

const list = (key: string | undefined, items?: SchemaNode): SchemaNode => ({ merge: true, key, items });

const container: SchemaNode = {
  fields: {
    env: list('name'),
    ports: list('containerPort'),
    volumeMounts: list('mountPath'),
    volumeDevices: list('devicePath'),
  },
};

const podSpec: SchemaNode = {
  fields: {
    containers: list('name', container),
    initContainers: list('name', container),
    ephemeralContainers: list('name', container),
    volumes: list('name'),
    imagePullSecrets: list('name'),
    hostAliases: list('ip'),
    topologySpreadConstraints: list('topologyKey'),
    schedulingGates: list('name'),
    resourceClaims: list('name'),
  },
};

const objectMeta: SchemaNode = {
  fields: {
    finalizers: list(undefined),
    ownerReferences: list('uid'),
  },
};

const conditions: SchemaNode = { fields: { conditions: list('type') } };

const podTemplateSpec: SchemaNode = { fields: { metadata: objectMeta, spec: podSpec } };

const withMeta = (fields: Record<string, SchemaNode> = {}): SchemaNode => ({ fields: { metadata: objectMeta, ...fields } });

const workload = withMeta({ spec: { fields: { template: podTemplateSpec } }, status: conditions });

const jobTemplate: SchemaNode = { fields: { metadata: objectMeta, spec: { fields: { template: podTemplateSpec } } } };

/** group/version → kind → schema. Only built-in API groups; everything listed gets ObjectMeta merging. */
const plainCore = ['ConfigMap', 'Secret', 'Namespace', 'Endpoints', 'Event', 'LimitRange', 'PersistentVolume',
  'PersistentVolumeClaim', 'ResourceQuota', 'Binding', 'ComponentStatus'];
const KINDS: Record<string, Record<string, SchemaNode>> = {
  v1: {
    Pod: withMeta({ spec: podSpec, status: conditions }),
    PodTemplate: withMeta({ template: podTemplateSpec }),
    ReplicationController: workload,
    Service: withMeta({ spec: { fields: { ports: list('port') } } }),
    ServiceAccount: withMeta({ secrets: list('name') }),
    Node: withMeta({ spec: { fields: { podCIDRs: list(undefined) } }, status: conditions }),
    ...Object.fromEntries(plainCore.map((k) => [k, withMeta()])),
  },
  'apps/v1': { Deployment: workload, ReplicaSet: workload, DaemonSet: workload, StatefulSet: workload,
    ControllerRevision: withMeta() },
  'batch/v1': {
    Job: withMeta({ spec: { fields: { template: podTemplateSpec } }, status: conditions }),
    CronJob: withMeta({ spec: { fields: { jobTemplate } } }),
  },
  'batch/v1beta1': { CronJob: withMeta({ spec: { fields: { jobTemplate } } }) },
};

const metaOnlyGroups = new Set([
  'networking.k8s.io/v1', 'rbac.authorization.k8s.io/v1', 'policy/v1', 'autoscaling/v1', 'autoscaling/v2',
  'storage.k8s.io/v1', 'scheduling.k8s.io/v1', 'coordination.k8s.io/v1', 'discovery.k8s.io/v1',
  'admissionregistration.k8s.io/v1', 'apiextensions.k8s.io/v1', 'certificates.k8s.io/v1', 'node.k8s.io/v1',
]);
const metaOnly = withMeta();

export function schemaForResource(apiVersion: unknown, kind: unknown): SchemaNode | undefined {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !apiVersion || !kind) return undefined;
  const byKind = KINDS[apiVersion];
  if (byKind && Object.hasOwn(byKind, kind)) return byKind[kind];
  return metaOnlyGroups.has(apiVersion) ? metaOnly : undefined;
}
