/** validate.podSecurity handler: Pod Security Standards over the pod (or pod template) of the resource. */
import type { JsonObject } from '../types.ts';
import type { RuleHandler } from './types.ts';
import { podSecurityException } from '../exceptions.ts';
import {
  compilePodSecurity, extractPodSpec, podSecurityFailMessage, podSecurityPassMessage, type PodSecuritySpec,
} from '../podsecurity/index.ts';

export function compilePodSecurityHandler(ruleName: string, validate: JsonObject): RuleHandler {
  const spec = validate.podSecurity as unknown as PodSecuritySpec;
  let evaluate: ReturnType<typeof compilePodSecurity>;
  try {
    evaluate = compilePodSecurity(spec);
  } catch (err) {
    const message = `failed to parse pod security api version: ${(err as Error).message}`;
    return () => ({ status: 'error', message });
  }
  const psa = podSecurityException(spec);
  const passed = podSecurityPassMessage(ruleName);
  return ({ resource, exceptions }) => {
    if (exceptions) {
      const whole = psa.before(exceptions);
      if (whole) return whole;
    }
    let pod;
    try {
      pod = extractPodSpec(resource);
    } catch (err) {
      return { status: 'error', message: `Error while getting new resource: ${(err as Error).message}` };
    }
    const r = evaluate(pod);
    if (r.allowed) return { status: 'pass', message: passed };
    const kind = String(resource.kind ?? '');
    let violations = r.violations;
    if (exceptions) {
      const left = psa.after(exceptions, pod, violations, kind);
      if (!Array.isArray(left)) return left;
      violations = left;
    }
    return { status: 'fail', message: podSecurityFailMessage(ruleName, spec, violations, kind) };
  };
}
