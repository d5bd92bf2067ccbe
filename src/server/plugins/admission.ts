/**
 * POST /validate and /mutate: AdmissionReview in, AdmissionReview out (same
 * apiVersion). The handler decides; an onResponse hook records the metrics
 * and writes the one info line per decision.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdmissionResponse, AdmissionReview } from '../review.ts';
import { resourceName, reviewResponse, toAdmissionInput } from '../review.ts';
import { admissionReviewSchema } from '../admission-schema.ts';
import { decideMutation, decideValidation, type Decision } from '../decision.ts';
import { DeadlineExceededError, withDeadline } from '../deadline.ts';
import { evaluateInTurn } from '../evaluation-turns.ts';
import { parseJsonBody } from '../json-body.ts';
import { decisionLogFor } from '../decision-log.ts';
import type { Mode, PolicySource } from '../policy-set.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { EvaluationResult } from '../../engine/engine.ts';

/** What one review decided, kept on the request for the onResponse hook. */
export interface AdmissionRecord {
  mode: Mode;
  uid: string;
  kind: string;
  namespace: string;
  name: string;
  operation: string;
  dryRun: boolean;
  allowed: boolean;
  /** `policy/rule` of every blocking rule. */
  failed: string[];
  warnings: number;
  patched: boolean;
  /** evaluated normally, or the failurePolicy answered after a timeout/throw. */
  outcome: 'evaluated' | 'timeout' | 'error';
}

declare module 'fastify' {
  interface FastifyRequest {
    admission: AdmissionRecord | null;
  }
}

export interface AdmissionPluginOptions {
  policies: PolicySource;
  metrics?: Metrics | undefined;
  maxDepth: number;
}

const responseSchema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    response: {
      type: 'object',
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: { type: 'object', properties: { status: { type: 'string' }, code: { type: 'integer' }, message: { type: 'string' } } },
        warnings: { type: 'array', items: { type: 'string' } },
        patch: { type: 'string' },
        patchType: { type: 'string' },
      },
    },
  },
} as const;

export async function admissionPlugin(app: FastifyInstance, opts: AdmissionPluginOptions): Promise<void> {
  const { policies, metrics, maxDepth } = opts;

  // Only JSON is accepted here; anything else is 415 (fastify's answer when no parser matches).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, maxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.decorateRequest('admission', null);
  // Requests log through the app's logger itself (app.ts: no per-request child).
  const logDecision = decisionLogFor(app.log);

  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    const rec = request.admission;
    if (!rec) return done();
    const seconds = reply.elapsedTime / 1000;
    metrics?.recordAdmission({ kind: rec.kind, namespace: rec.namespace, operation: rec.operation, dryRun: rec.dryRun }, rec.allowed, seconds);
    logDecision(rec, Math.round(reply.elapsedTime * 1000) / 1000);
    done();
  });

  const route = (mode: Mode) => ({
    schema: { body: admissionReviewSchema, response: { 200: responseSchema } },
    handler: (request: FastifyRequest, reply: FastifyReply) => review(mode, request, reply),
  });
  app.post('/validate', route('validate'));
  app.post('/mutate', route('mutate'));

  async function review(mode: Mode, request: FastifyRequest, reply: FastifyReply) {
    const body = request.body as AdmissionReview;
    const req = body.request;
    const set = policies.current;
    if (!set) {
      // Not ready: let the apiserver apply the webhook's own failurePolicy.
      request.log.warn({ uid: req.uid }, 'admission review before any policy set was loaded');
      return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: 'no policy set loaded yet' });
    }
    const input = toAdmissionInput(req);
    const rec: AdmissionRecord = {
      mode, uid: req.uid, kind: req.kind.kind, namespace: input.namespace ?? '', name: resourceName(req),
      operation: req.operation, dryRun: input.dryRun === true, allowed: true, failed: [], warnings: 0, patched: false, outcome: 'evaluated',
    };
    request.admission = rec;
    const response: AdmissionResponse = { uid: req.uid, allowed: true };

    const started = performance.now();
    let result: EvaluationResult;
    try {
      result = await withDeadline(evaluateInTurn(set.decider, input, { mode }), set.budgetMs);
    } catch (err) {
      // Timeout or engine failure: the policies' failurePolicy answers.
      const timedOut = err instanceof DeadlineExceededError;
      const reason = timedOut ? err.message : `policy evaluation failed: ${truncate(err instanceof Error ? err.message : String(err))}`;
      const failurePolicy = set.failurePolicy[mode];
      rec.outcome = timedOut ? 'timeout' : 'error';
      request.log.warn({ uid: req.uid, webhook: mode, kind: rec.kind, namespace: rec.namespace, reason, failurePolicy }, 'admission review not evaluated');
      if (failurePolicy === 'Fail') {
        rec.allowed = response.allowed = false;
        response.status = { status: 'Failure', code: 500, message: `portcullis: ${reason}; denied because failurePolicy is Fail` };
      } else {
        response.warnings = [`portcullis: ${reason}; allowed because failurePolicy is Ignore`];
        rec.warnings = 1;
      }
      return reviewResponse(body.apiVersion, response);
    }
    const evalSeconds = (performance.now() - started) / 1000;
    if (metrics) recordResults(metrics, result, rec, evalSeconds);
    if (request.log.level === 'debug' || request.log.level === 'trace') logRuleDetail(request, result, rec);

    const decision: Decision = mode === 'validate'
      ? decideValidation(result.results, { kind: rec.kind, namespace: rec.namespace, name: req.name || input.object?.metadata?.name || '' })
      : decideMutation(result.results, rec.namespace);
    rec.allowed = response.allowed = decision.allowed;
    rec.failed = decision.blocking.map((b) => `${b.policy}/${b.rule}`);
    rec.warnings = decision.warnings.length;
    if (!decision.allowed) response.status = { status: 'Failure', code: 403, message: decision.message ?? 'denied by policy' };
    if (decision.warnings.length > 0) response.warnings = decision.warnings;
    if (mode === 'mutate' && decision.allowed && result.patches.length > 0) {
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(result.patches)).toString('base64');
      rec.patched = true;
    }
    return reviewResponse(body.apiVersion, response);
  }
}

/** Engine error text is echoed to the apiserver and logs: keep it bounded. */
function truncate(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function recordResults(metrics: Metrics, result: EvaluationResult, rec: AdmissionRecord, evalSeconds: number): void {
  // The engine times each policy; its rules share that time.
  let ruleCount = 0;
  for (const r of result.results) ruleCount += r.rules.length;
  const labels = { kind: rec.kind, namespace: rec.namespace, operation: rec.operation, dryRun: rec.dryRun };
  for (const r of result.results) {
    if (r.rules.length === 0) continue;
    const policySeconds = typeof r.durationMs === 'number' ? r.durationMs / 1000 : (evalSeconds * r.rules.length) / ruleCount;
    metrics.recordPolicyResults(r.policy, r.rules, labels, policySeconds / r.rules.length);
  }
}

function logRuleDetail(request: FastifyRequest, result: EvaluationResult, rec: AdmissionRecord): void {
  // Messages may quote object fields: never for Secrets.
  const secret = rec.kind === 'Secret';
  for (const r of result.results) {
    for (const rule of r.rules) {
      request.log.debug({ uid: rec.uid, policy: r.policy.name, rule: rule.name, status: rule.status, message: secret ? undefined : rule.message }, 'rule result');
    }
  }
}
