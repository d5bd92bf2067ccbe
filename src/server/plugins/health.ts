/**
 * GET /healthz (the process serves) and GET /readyz (a policy set is compiled
 * and the serving certificate is loaded; 503 with the reasons otherwise).
 */
import type { FastifyInstance } from 'fastify';
import type { PolicySource } from '../policy-set.ts';

export interface HealthPluginOptions {
  policies: PolicySource;
  /** Extra readiness reasons (e.g. certificate not loaded); empty when ready. */
  notReady?: (() => string[]) | undefined;
}

const statusSchema = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    generation: { type: 'integer' },
    reasons: { type: 'array', items: { type: 'string' } },
  },
} as const;

export async function healthPlugin(app: FastifyInstance, opts: HealthPluginOptions): Promise<void> {
  app.get('/healthz', { schema: { response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { response: { 200: statusSchema, 503: statusSchema } } }, async (_request, reply) => {
    const reasons = opts.notReady?.() ?? [];
    const set = opts.policies.current;
    if (!set) reasons.unshift('no policy set loaded');
    if (reasons.length > 0) return reply.code(503).send({ status: 'not ready', reasons });
    return { status: 'ready', generation: set!.generation };
  });
}
