/**
 * The running webhook: HTTPS admission listener (TLS 1.2+, hot-reloaded
 * certificate), plain-HTTP /metrics listener on its own port, live policy
 * reload, graceful close (stop accepting, finish in-flight reviews).
 */
import type { Server as HttpServer } from 'node:http';
import { http } from '../util/node-http.ts';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from './logger.ts';
import { tuneV8ForServing } from './v8-tuning.ts';
import { Metrics } from '../metrics/metrics.ts';
import { buildApp } from './app.ts';
import { DEFAULT_BUDGET_MS } from './deadline.ts';
import { PolicyStore, type Decider, type PolicyLoader } from './policy-set.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { KubeObject } from '../engine/types.ts';
import type { PolicyTextSource } from './configmap-policies.ts';
import type { EngineOptions } from '../engine/engine.ts';
import type { ServerContextOptions } from './resolver.ts';
import { MIN_TLS_VERSION, loadTlsMaterial, watchTls, type TlsFiles } from './tls.ts';
import type { Watcher } from './watch.ts';

export interface ServerOptions {
  policyPaths: readonly string[];
  tls: TlsFiles;
  host?: string;
  /** Admission HTTPS port (default 9443; 0 = any free port). */
  port?: number;
  /** Plain-HTTP metrics port (default 8000; 0 = any free port; null = no metrics listener). */
  metricsPort?: number | null;
  metricsHost?: string;
  budgetMs?: number;
  bodyLimit?: number;
  logger?: Logger;
  /** Watch policies and certificates for changes (default true). */
  watch?: boolean;
  watchPollMs?: number;
  /** For tests and benchmarks: replace the loader or the engine. */
  loader?: PolicyLoader;
  createDecider?: (policies: readonly CompiledPolicy[]) => Decider;
  processMetrics?: boolean;
  /**
   * Where context entries come from: registry credentials/CA for imageRegistry and
   * verifyImages, a kubeconfig for configMap/apiCall (in-cluster when
   * KUBERNETES_SERVICE_HOST is set). Ignored when `engineOptions` is given.
   */
  context?: ServerContextOptions;
  /** Also load policies from ConfigMaps matching this label selector (needs a cluster: in-cluster or context.kubeconfig). */
  policyConfigMaps?: { selector: string; namespace?: string; pollMs?: number };
  /** For tests: the Engine's options as they are (resolver, images). */
  engineOptions?: EngineOptions;
}

export interface RunningServer {
  app: FastifyInstance;
  store: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  /** Bound admission port. */
  port: number;
  /** Bound metrics port (undefined without a metrics listener). */
  metricsPort: number | undefined;
  /** Report not ready (so endpoints drop this pod) while still serving. */
  drain(): void;
  /** Stop accepting, finish in-flight requests, release watchers and listeners. */
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  tuneV8ForServing();
  const logger = options.logger ?? createLogger({ name: 'portcullis' });
  const metrics = new Metrics({ processMetrics: options.processMetrics ?? true });
  const watchOpts = options.watchPollMs !== undefined ? { pollMs: options.watchPollMs } : {};

  // A missing or bad certificate at start is fatal (nothing to serve with): checked before the policy load.
  const material = await loadTlsMaterial(options.tls);
  // Bad registry/kube configuration is fatal too: better than erroring every rule that needs it.
  // (An injected decider needs none, and then the image/registry code is never loaded.)
  const engineOptions = options.engineOptions ?? (options.createDecider ? {} : await defaultEngineOptions(options.context));
  if (!options.createDecider) {
    // Image verification cache hits, misses and registry-round latency.
    const { defaultVerificationCache } = await import('../images/index.ts');
    defaultVerificationCache.onEvent = (outcome, ms) => metrics.recordImageCache(outcome, ms);
  }

  let configMaps: PolicyTextSource | undefined;
  if (options.policyConfigMaps) {
    const [{ kubeTransport }, { configMapPolicySource }] = await Promise.all([import('../kube/transport.ts'), import('./configmap-policies.ts')]);
    const kube = await kubeTransport(options.context?.kubeconfig ? { kubeconfig: options.context.kubeconfig } : {});
    configMaps = configMapPolicySource(kube, options.policyConfigMaps.selector, options.policyConfigMaps.namespace);
  }
  const store = new PolicyStore({
    ...(configMaps ? { configMaps } : {}),
    paths: options.policyPaths,
    budgetMs: options.budgetMs ?? DEFAULT_BUDGET_MS,
    metrics,
    logger,
    engineOptions,
    ...(options.loader ? { loader: options.loader } : {}),
    ...(options.createDecider ? { createDecider: options.createDecider } : {}),
  });
  await store.reload();

  const app = buildApp({
    policies: store,
    metrics,
    logger,
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    https: { cert: material.cert, key: material.key, minVersion: MIN_TLS_VERSION },
    // The certificate is loaded before the listener exists; only draining makes us unready.
    notReady: () => (draining ? ['shutting down'] : []),
  });

  let draining = false;
  const watchers: Watcher[] = [];
  let metricsServer: HttpServer | undefined;
  try {
    await app.listen({ port: options.port ?? 9443, host: options.host ?? '0.0.0.0' });
    if (options.watch !== false) {
      store.watch({ ...watchOpts, ...(options.policyConfigMaps?.pollMs ? { configMapPollMs: options.policyConfigMaps.pollMs } : {}) });
      watchers.push(watchTls(app.server as HttpsServer, options.tls, logger, watchOpts));
    }
    if (options.metricsPort !== null) {
      metricsServer = await startMetricsServer(metrics, options.metricsPort ?? 8000, options.metricsHost ?? options.host ?? '0.0.0.0');
    }
  } catch (err) {
    store.close();
    for (const w of watchers) w.close();
    await app.close();
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;
  logger.info({ port, metricsPort, policies: store.current?.policies.length ?? 0 }, 'portcullis webhook serving');

  let closing: Promise<void> | undefined;
  return {
    app, store, metrics, logger, port, metricsPort,
    drain() {
      draining = true;
    },
    close() {
      draining = true;
      closing ??= (async () => {
        store.close();
        for (const w of watchers) w.close();
        await app.close(); // fastify: stop accepting, 503 new requests, wait for in-flight ones
        if (metricsServer) await new Promise<void>((resolve) => metricsServer!.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/**
 * One RegistryClient shared by imageRegistry context entries and verifyImages
 * rules; with a cluster, verifyImages `keys.secret` is read through the resolver too.
 */
async function defaultEngineOptions(context: ServerContextOptions | undefined): Promise<EngineOptions> {
  const { createServerResolver } = await import('./resolver.ts');
  const resolver = await createServerResolver(context);
  if (!resolver.hasCluster) return { resolver, images: { client: resolver.registry } };
  // In a cluster, verifyImages also uses the admitted Pod's imagePullSecrets (read through
  // the API, cached briefly), falling back to the server's own registry credentials.
  const { cachedSecretReader, kubernetesSecretReader, podCredentialStore, pullSecretNames } = await import('../images/index.ts');
  const readSecret = cachedSecretReader(await kubernetesSecretReader(context?.kubeconfig ? { kubeconfig: context.kubeconfig } : {}));
  const clientFor = async (resource: KubeObject, namespace: string) => pullSecretNames(resource).length === 0
    ? resolver.registry
    : resolver.registry.withCredentials(await podCredentialStore(resource, namespace, readSecret));
  return { resolver, images: { client: resolver.registry, clientFor, secretKey: (ref) => resolver.secretKey(ref) } };
}

/** /metrics on its own plain-HTTP listener so scraping never touches the admission port. */
export function startMetricsServer(metrics: Metrics, port: number, host: string): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType() }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * SIGTERM/SIGINT: report unready, keep serving while draining on SIGTERM (the
 * endpoint removal races the signal during a rolling update), then close
 * gracefully and resolve with the exit code. `drain` is a delay in ms, or a
 * function whose promise ends the drain.
 */
export function closeOnSignals(
  server: RunningServer,
  drain: number | (() => Promise<void>) = 0,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  drainOn: readonly NodeJS.Signals[] = ['SIGTERM'],
): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      for (const s of signals) process.off(s, onSignal);
      server.drain();
      const draining = !drainOn.includes(signal) ? Promise.resolve()
        : typeof drain === 'function' ? drain() : new Promise<void>((r) => setTimeout(r, drain));
      server.logger.info({ signal, drainMs: typeof drain === 'number' && drainOn.includes(signal) ? drain : undefined }, 'shutting down: finishing in-flight reviews');
      draining.then(() => server.close()).then(
        () => { server.logger.info('shutdown complete'); resolve(0); },
        (err: unknown) => { server.logger.error({ reason: String(err) }, 'shutdown failed'); resolve(1); },
      );
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
