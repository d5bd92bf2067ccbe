import { getConformanceSuite } from '@bufbuild/cel-spec/testdata/tests.js';
const s = getConformanceSuite();
const walk = (x: any, d = 0): void => { console.log(' '.repeat(d) + x.name, x.tests.length); if (d < 1) for (const c of x.suites) walk(c, d + 1); };
walk(s);
const t0 = s.suites[0]!.suites[0]!.tests[0]!; console.log(JSON.stringify(t0.original, (k, v) => typeof v === 'bigint' ? String(v) : v).slice(0, 500));
