import { runSpecSuite } from './test/cel/support/spec-suite.ts';
const s = runSpecSuite(); console.log(s.total, s.base, s.ours); for (const r of s.regressions) console.log(r);
