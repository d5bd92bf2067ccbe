/** Kubernetes CEL regex library: find, findAll (`matches` is CEL core, RE2 in @bufbuild/cel). */
import { CelScalar, celMethod, listType, type CelFunc } from '@bufbuild/cel';
import { compileGoRegex } from '../../engine/jmespath/goregex.ts';

function findAll(s: string, pattern: string, limit: number): string[] {
  const re = compileGoRegex(pattern); // length-capped, cached, global
  re.lastIndex = 0;
  const out: string[] = [];
  let m: RegExpExecArray | null;
  while ((limit < 0 || out.length < limit) && (m = re.exec(s)) !== null) {
    out.push(m[0]);
    if (m[0] === '') re.lastIndex++;
  }
  re.lastIndex = 0;
  return out;
}

export const regexFuncs: CelFunc[] = [
  celMethod('find', CelScalar.STRING, [CelScalar.STRING], CelScalar.STRING, function (p) {
    return findAll(this, p, 1)[0] ?? '';
  }),
  celMethod('findAll', CelScalar.STRING, [CelScalar.STRING], listType(CelScalar.STRING), function (p) {
    return findAll(this, p, -1);
  }),
  celMethod('findAll', CelScalar.STRING, [CelScalar.STRING, CelScalar.INT], listType(CelScalar.STRING), function (p, n) {
    return findAll(this, p, Number(n));
  }),
];
