/**
 * policies.kyverno.io PolicyException for the CEL policy kinds: an exception
 * names policies in `policyRefs` ({name, kind}) and applies when all its
 * `matchConditions` hold. A full exemption (no `images`/`allowedValues`)
 * replaces evaluation with an `exception` rule result: skip, or pass when
 * the chosen exception's `reportResult` is `pass` (the highest
 * `kyverno.io/exception-priority` label wins), with the message
 * "rule is skipped|passed due to policy exception: <ns/name, …>".
 */
import type { CelInput } from '@bufbuild/cel';
import type { JsonObject, JsonValue } from '../engine/types.ts';
import type { CelContextProvider } from './context.ts';
import { compileList } from './program.ts';
import { obj } from './json-shapes.ts';

const PRIORITY_LABEL = 'kyverno.io/exception-priority';

export interface CompiledException {
  key: string;
  priority: number;
  reportResult: string;
  /** Exceptions with images/allowedValues only narrow a policy; they never exempt it whole. */
  full: boolean;
  matches(bindings: Record<string, CelInput>, ctx?: CelContextProvider): boolean;
}

/** The policies.kyverno.io PolicyExceptions whose `policyRefs` name this policy (by name and kind). */
export function exceptionsNaming(policyName: string, policyKind: string, exceptions: readonly JsonObject[]): JsonObject[] {
  return exceptions
    .filter((e) => e.kind === 'PolicyException' && String(e.apiVersion ?? '').startsWith('policies.kyverno.io/'))
    .filter((e) => (Array.isArray(obj(e.spec)?.policyRefs) ? (obj(e.spec)!.policyRefs as JsonValue[]) : []).some((r) => obj(r)?.name === policyName && obj(r)?.kind === policyKind));
}

/** Compile the exceptions that reference this policy (by name and kind). */
export function compileExceptionsFor(policyName: string, policyKind: string, exceptions: readonly JsonObject[]): CompiledException[] {
  return exceptionsNaming(policyName, policyKind, exceptions)
    .map((e) => {
      const meta = obj(e.metadata) ?? {};
      const spec = obj(e.spec) ?? {};
      const conditions = compileList(spec.matchConditions, `PolicyException ${String(meta.name)}: spec.matchConditions`);
      const label = obj(meta.labels)?.[PRIORITY_LABEL];
      const narrow = (Array.isArray(spec.images) && spec.images.length > 0) || (Array.isArray(spec.allowedValues) && spec.allowedValues.length > 0);
      return {
        key: meta.namespace ? `${String(meta.namespace)}/${String(meta.name)}` : String(meta.name ?? ''),
        priority: typeof label === 'string' && /^-?\d+$/.test(label) ? Number(label) : 0,
        reportResult: String(spec.reportResult ?? ''),
        full: !narrow,
        matches(bindings, ctx) {
          return conditions.every((c) => c.expr.evaluate(bindings, ctx) === true);
        },
      };
    });
}

/** The `exception` rule result when full exemptions match, else undefined. Throws on a condition error. */
export function exceptionResult(list: readonly CompiledException[], bindings: Record<string, CelInput>, ctx?: CelContextProvider): { status: 'skip' | 'pass'; message: string } | undefined {
  const matched = list.filter((e) => e.matches(bindings, ctx));
  if (!matched.some((e) => e.full)) return undefined;
  let chosen = matched[0]!;
  for (const e of matched) if (e.priority > chosen.priority) chosen = e;
  const pass = chosen.reportResult === 'pass';
  return { status: pass ? 'pass' : 'skip', message: `rule is ${pass ? 'passed' : 'skipped'} due to policy exception: ${matched.map((e) => e.key).join(', ')}` };
}
