/**
 * The fastify application: admission routes and health checks, each its own
 * plugin. Transport (HTTPS, ports, signals) is the caller's business, so tests
 * drive the same app with inject().
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.ts';
import { admissionPlugin } from './plugins/admission.ts';
import { healthPlugin } from './plugins/health.ts';
import { DEFAULT_MAX_DEPTH } from './json-body.ts';
import type { PolicySource } from './policy-set.ts';

/** The apiserver's own request body limit. */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;

export interface AppOptions {
  policies: PolicySource;
  metrics?: Metrics;
  logger?: Logger;
  /** Maximum request body in bytes (default 3 MiB); larger bodies get 413. */
  bodyLimit?: number;
  /** Maximum JSON nesting depth (default 128); deeper bodies get 400. */
  maxDepth?: number;
  /** Serve HTTPS with these options (key/cert); plain HTTP when absent (tests, inject). */
  https?: HttpsOptions;
  /** Extra readiness reasons, e.g. from the certificate loader. */
  notReady?: () => string[];
  /** Whole-request timeout for slow clients, ms (default 15 s). */
  requestTimeoutMs?: number;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const requestTimeout = options.requestTimeoutMs ?? 15_000;
  // Slow clients: the whole request (headers included) must arrive within requestTimeout;
  // node checks pending requests every connectionsCheckingInterval (default 30 s, too coarse).
  const slowClient = { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(1000, requestTimeout) };
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    ...(options.https ? { https: { ...options.https, ...slowClient } } : { http: slowClient }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestTimeout,
    // Our own decision line replaces fastify's per-request lines, and carries the review's uid,
    // so requests log through the server's logger itself rather than a child made per request.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger) => logger,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // The envelope is checked, never coerced or trimmed.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ url: request.url, code: err.code, reason: err.message }, 'request failed');
      return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
    }
    const message = err.validation ? `invalid AdmissionReview: ${err.message}` : err.message;
    // Logged once here, never with the body (it may carry Secret data).
    request.log.warn({ url: request.url, statusCode: status, code: err.code, reason: message }, 'bad admission request');
    return reply.code(status).send({ statusCode: status, error: err.name === 'BodyError' || err.validation ? 'Bad Request' : (err.code ?? 'Error'), message });
  });

  app.register(healthPlugin, { policies: options.policies, notReady: options.notReady });
  app.register(admissionPlugin, { policies: options.policies, metrics: options.metrics, maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH });
  return app;
}
