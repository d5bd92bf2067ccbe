/**
 * Policies dropped into labelled ConfigMaps: every `.yaml`/`.yml`/`.json` data
 * entry of the ConfigMaps that match a label selector is a policy file, named
 * `configmap:<namespace>/<name>/<key>` in errors. Read through the Kubernetes
 * API (the server's KubeTransport); `version()` is cheap to poll and changes
 * whenever a matching ConfigMap is created, changed or deleted.
 */
import type { KubeTransport } from './resolver.ts';

export interface PolicyText {
  name: string;
  text: string;
}

export interface PolicyTextSource {
  /** The policy texts, with a version string of what was read. */
  read(): Promise<{ version: string; texts: PolicyText[] }>;
}

interface ConfigMapList {
  items?: Array<{ metadata?: { name?: string; namespace?: string; resourceVersion?: string }; data?: Record<string, string> }>;
}

const policyKey = /\.(ya?ml|json)$/;

export function configMapPolicySource(kube: KubeTransport, selector: string, namespace?: string): PolicyTextSource {
  const base = namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps` : '/api/v1/configmaps';
  const path = `${base}?labelSelector=${encodeURIComponent(selector)}`;
  return {
    async read() {
      const res = await kube({ method: 'GET', path });
      if (res.status !== 200) throw new Error(`listing policy ConfigMaps (${selector}) failed: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
      const list = JSON.parse(res.body.toString('utf8')) as ConfigMapList;
      const items = [...(list.items ?? [])].sort((a, b) =>
        `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
      const texts: PolicyText[] = [];
      for (const cm of items) {
        const id = `${cm.metadata?.namespace ?? ''}/${cm.metadata?.name ?? ''}`;
        for (const key of Object.keys(cm.data ?? {}).sort()) {
          if (policyKey.test(key)) texts.push({ name: `configmap:${id}/${key}`, text: cm.data![key]! });
        }
      }
      const version = items.map((cm) => `${cm.metadata?.namespace}/${cm.metadata?.name}@${cm.metadata?.resourceVersion}`).join(',');
      return { version, texts };
    },
  };
}
