/**
 * `portcullis serve`: the admission webhook. Exits 0 after a graceful
 * shutdown on SIGTERM/SIGINT, non-zero when it cannot start.
 */
import { parseArgs } from 'node:util';
import { parseAllowPrefixes } from '../server/cel-http.ts';
import { DEFAULT_BODY_LIMIT } from '../server/app.ts';
import { DEFAULT_BUDGET_MS } from '../server/deadline.ts';
import { closeOnSignals, startServer } from '../server/server.ts';
import { createLogger } from '../server/logger.ts';

const USAGE = `usage: portcullis serve [options]

  --policies DIR        policy files or directories (repeatable; default: policies)
  --port N              HTTPS admission port (default 9443)
  --metrics-port N      plain-HTTP /metrics port (default 8000)
  --host ADDR           listen address (default 0.0.0.0)
  --tls-cert FILE       serving certificate (default certs/tls.crt)
  --tls-key FILE        serving key (default certs/tls.key)
  --budget-ms N         answer every review within N ms (default ${DEFAULT_BUDGET_MS})
  --body-limit BYTES    largest accepted AdmissionReview (default ${DEFAULT_BODY_LIMIT})
  --drain-ms N          on SIGTERM keep serving N ms while unready before closing (default 5000)
  --registry-config FILE  docker config.json with registry credentials (default $DOCKER_CONFIG/config.json)
  --registry-ca FILE    extra CA certificates (PEM) trusted for registries
  --kubeconfig FILE     API server for configMap/apiCall context entries (default: in-cluster when
                        KUBERNETES_SERVICE_HOST is set, else none: such rules report an error)
  --cel-http-allow PREFIX
                        let CEL http.Get/http.Post reach URLs under this prefix (repeatable, e.g.
                        https://api.example.com/v1/); without it every CEL http call is refused
  --policy-configmaps SELECTOR
                        also load policies from ConfigMaps with these labels (e.g. portcullis.io/policies=true),
                        read through the API and re-read when they change (polled every 5 s)
  --policy-configmap-namespace NS
                        only ConfigMaps in this namespace (default: all namespaces)
  --log-level LEVEL     pino level: fatal,error,warn,info,debug,trace (default info)`;

function intOption(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

export async function runServeCommand(argv: readonly string[]): Promise<number> {
  let opts;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        policies: { type: 'string', multiple: true },
        port: { type: 'string' },
        'metrics-port': { type: 'string' },
        host: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'budget-ms': { type: 'string' },
        'body-limit': { type: 'string' },
        'drain-ms': { type: 'string' },
        'registry-config': { type: 'string' },
        'registry-ca': { type: 'string' },
        kubeconfig: { type: 'string' },
        'cel-http-allow': { type: 'string', multiple: true },
        'policy-configmaps': { type: 'string' },
        'policy-configmap-namespace': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    // A bad prefix is a usage error, reported before anything starts.
    if (values['cel-http-allow']) parseAllowPrefixes(values['cel-http-allow']);
    const level = values['log-level'] ?? 'info';
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) throw new Error(`unknown --log-level ${level}`);
    opts = {
      policyPaths: values.policies ?? ['policies'],
      port: intOption('port', values.port, 9443),
      metricsPort: intOption('metrics-port', values['metrics-port'], 8000),
      host: values.host ?? '0.0.0.0',
      tls: { certFile: values['tls-cert'] ?? 'certs/tls.crt', keyFile: values['tls-key'] ?? 'certs/tls.key' },
      budgetMs: intOption('budget-ms', values['budget-ms'], DEFAULT_BUDGET_MS, 1),
      bodyLimit: intOption('body-limit', values['body-limit'], DEFAULT_BODY_LIMIT, 1024),
      drainMs: intOption('drain-ms', values['drain-ms'], 5000),
      context: {
        ...(values['registry-config'] ? { configFile: values['registry-config'] } : {}),
        ...(values['registry-ca'] ? { caFile: values['registry-ca'] } : {}),
        ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
        ...(values['cel-http-allow'] ? { celHttpAllow: values['cel-http-allow'] } : {}),
      },
      ...(values['policy-configmaps'] ? {
        policyConfigMaps: {
          selector: values['policy-configmaps'],
          ...(values['policy-configmap-namespace'] ? { namespace: values['policy-configmap-namespace'] } : {}),
        },
      } : {}),
      level,
    };
  } catch (err) {
    process.stderr.write(`portcullis serve: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }

  const logger = createLogger({ name: 'portcullis', level: opts.level });
  let server;
  try {
    server = await startServer({ ...opts, logger });
  } catch (err) {
    logger.fatal({ reason: err instanceof Error ? err.message : String(err) }, 'cannot start the webhook server');
    return 1;
  }
  return closeOnSignals(server, opts.drainMs);
}
