/**
 * Runs the CEL specification's conformance cases (shipped by
 * @bufbuild/cel-spec) through a plain @bufbuild/cel environment and through
 * Portcullis' environment, on the cases that need no protobuf messages.
 */
import { celEnv, celUint, isCelError, isCelList, isCelMap, isCelUint, parse, plan, type CelInput, type CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { getConformanceSuite, type IncrementalTestSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import type { Value } from '@bufbuild/cel-spec/cel/expr/value_pb.js';
import { compileExpression } from '../../../src/cel/env.ts';

export const SECTIONS = ['basic', 'comparisons', 'conversions', 'fp_math', 'integer_math', 'lists', 'logic', 'macros', 'macros2', 'optionals', 'parse', 'plumbing', 'string', 'string_ext'];

class Unsupported extends Error {}

function fromValue(v: Value): CelInput {
  const k = v.kind;
  switch (k.case) {
    case 'nullValue': return null;
    case 'boolValue': case 'stringValue': case 'doubleValue': return k.value;
    case 'int64Value': return k.value;
    case 'uint64Value': return celUint(k.value);
    case 'bytesValue': return k.value;
    case 'enumValue': return BigInt(k.value.value);
    case 'listValue': return k.value.values.map(fromValue);
    case 'mapValue': return new Map(k.value.entries.map((e) => [fromValue(e.key!) as string, fromValue(e.value!)]));
    default: throw new Unsupported(k.case ?? 'empty');
  }
}

function equal(a: CelValue | CelInput, b: CelInput): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (typeof a !== 'object' || a === null) return a === b;
  if (isCelUint(a)) return isCelUint(b) && a.value === b.value;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
  if (isCelList(a)) return Array.isArray(b) && a.size === b.length && b.every((x, i) => equal(a.get(i)!, x));
  if (isCelMap(a)) return b instanceof Map && a.size === b.size && [...b].every(([k, x]) => a.has(k as string) && equal(a.get(k as string)!, x));
  return false;
}

export interface SpecScore { total: number; base: number; ours: number; regressions: string[] }

export function runSpecSuite(): SpecScore {
  const baseEnv = celEnv({ funcs: strings });
  const score: SpecScore = { total: 0, base: 0, ours: 0, regressions: [] };
  const visit = (suite: IncrementalTestSuite, path: string) => {
    for (const test of suite.tests) {
      const o = test.original;
      // Portcullis always type-checks names at compile time (as Kyverno's checked environment does),
      // so cases about unchecked evaluation do not apply.
      if (o.disableMacros || o.disableCheck || o.checkOnly || o.container !== '') continue;
      let bindings: Record<string, CelInput>;
      let expected: { value: CelInput } | 'error';
      try {
        bindings = Object.fromEntries(Object.entries(o.bindings).map(([k, v]) => {
          if (v.kind.case !== 'value') throw new Unsupported('binding');
          return [k, fromValue(v.kind.value)];
        }));
        const m = o.resultMatcher;
        if (m.case === 'value') expected = { value: fromValue(m.value) };
        else if (m.case === 'evalError' || m.case === 'anyEvalErrors') expected = 'error';
        else if (m.case === undefined) expected = { value: true };
        else continue;
      } catch (e) {
        if (e instanceof Unsupported) continue;
        throw e;
      }
      score.total++;
      const judge = (run: () => CelValue | ReturnType<ReturnType<typeof plan>>): boolean => {
        let out: CelValue | ReturnType<ReturnType<typeof plan>>;
        try {
          out = run();
        } catch {
          return expected === 'error';
        }
        if (isCelError(out)) return expected === 'error';
        return expected !== 'error' && equal(out, expected.value);
      };
      const base = judge(() => plan(baseEnv, parse(o.expr))(bindings));
      const ours = judge(() => compileExpression(o.expr, Object.keys(bindings)).evaluate(bindings));
      if (base) score.base++;
      if (ours) score.ours++;
      if (base && !ours) score.regressions.push(`${path}/${test.name}: ${o.expr}`);
    }
    for (const s of suite.suites) visit(s, `${path}/${s.name}`);
  };
  for (const s of getConformanceSuite().suites) if (SECTIONS.includes(s.name)) visit(s, s.name);
  return score;
}
