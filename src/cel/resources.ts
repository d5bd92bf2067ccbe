/**
 * Kind ⇄ resource (plural) names for matchConstraints and resource.Get/List:
 * a table of the built-in kinds plus the usual English plural heuristic; and
 * which built-in kinds are cluster-scoped (offline there is no discovery).
 */
const PLURALS: Record<string, string> = {
  Pod: 'pods', Deployment: 'deployments', ReplicaSet: 'replicasets', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets',
  Job: 'jobs', CronJob: 'cronjobs', ReplicationController: 'replicationcontrollers', Service: 'services',
  ConfigMap: 'configmaps', Secret: 'secrets', Namespace: 'namespaces', Node: 'nodes', ServiceAccount: 'serviceaccounts',
  PersistentVolume: 'persistentvolumes', PersistentVolumeClaim: 'persistentvolumeclaims', Endpoints: 'endpoints',
  EndpointSlice: 'endpointslices', Event: 'events', LimitRange: 'limitranges', ResourceQuota: 'resourcequotas',
  Ingress: 'ingresses', IngressClass: 'ingressclasses', NetworkPolicy: 'networkpolicies', StorageClass: 'storageclasses',
  Role: 'roles', ClusterRole: 'clusterroles', RoleBinding: 'rolebindings', ClusterRoleBinding: 'clusterrolebindings',
  HorizontalPodAutoscaler: 'horizontalpodautoscalers', PodDisruptionBudget: 'poddisruptionbudgets',
  PriorityClass: 'priorityclasses', CustomResourceDefinition: 'customresourcedefinitions',
  ValidatingWebhookConfiguration: 'validatingwebhookconfigurations', MutatingWebhookConfiguration: 'mutatingwebhookconfigurations',
  RuntimeClass: 'runtimeclasses', Lease: 'leases', CSIDriver: 'csidrivers', VolumeAttachment: 'volumeattachments',
  PodTemplate: 'podtemplates', Binding: 'bindings', Gateway: 'gateways', HTTPRoute: 'httproutes', GatewayClass: 'gatewayclasses',
};
const KINDS = new Map(Object.entries(PLURALS).map(([k, v]) => [v, k]));

export function resourceOfKind(kind: string): string {
  const known = PLURALS[kind];
  if (known) return known;
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/** Kind for a plural resource name, when it is a known built-in (else undefined). */
export function kindOfResource(resource: string): string | undefined {
  return KINDS.get(resource);
}

/** Built-in cluster-scoped kinds by API group (everything else, custom kinds included, is taken as namespaced). */
const CLUSTER_SCOPED: Record<string, string> = {
  Namespace: '', Node: '', PersistentVolume: '', ComponentStatus: '',
  ClusterRole: 'rbac.authorization.k8s.io', ClusterRoleBinding: 'rbac.authorization.k8s.io',
  StorageClass: 'storage.k8s.io', CSIDriver: 'storage.k8s.io', CSINode: 'storage.k8s.io', VolumeAttachment: 'storage.k8s.io',
  PriorityClass: 'scheduling.k8s.io', RuntimeClass: 'node.k8s.io', IngressClass: 'networking.k8s.io',
  CustomResourceDefinition: 'apiextensions.k8s.io', APIService: 'apiregistration.k8s.io',
  CertificateSigningRequest: 'certificates.k8s.io',
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io', MutatingWebhookConfiguration: 'admissionregistration.k8s.io',
  ValidatingAdmissionPolicy: 'admissionregistration.k8s.io', ValidatingAdmissionPolicyBinding: 'admissionregistration.k8s.io',
  MutatingAdmissionPolicy: 'admissionregistration.k8s.io', MutatingAdmissionPolicyBinding: 'admissionregistration.k8s.io',
  FlowSchema: 'flowcontrol.apiserver.k8s.io', PriorityLevelConfiguration: 'flowcontrol.apiserver.k8s.io',
};

/** Is `kind` (of `apiVersion`, when given) a built-in cluster-scoped kind? */
export function isClusterScopedKind(kind: string, apiVersion?: string): boolean {
  const group = CLUSTER_SCOPED[kind];
  if (group === undefined) return false;
  return apiVersion === undefined || (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '') === group;
}
