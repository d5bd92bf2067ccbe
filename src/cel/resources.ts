/**
 * Kind ⇄ resource (plural) names for matchConstraints and resource.Get/List:
 * a table of the built-in kinds plus the usual English plural heuristic.
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
