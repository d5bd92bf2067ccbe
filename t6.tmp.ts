import { scoreFolders } from './test/cel/support/conformance.ts';
const t0 = Date.now();
const s = scoreFolders(/-(cel|vpol|mpol)$/);
for (const x of s) console.log(x.suite, `${x.matched}/${x.expected}`);
for (const x of s) for (const m of x.misses) console.log('  ', m.slice(0, 400));
console.log('ms', Date.now() - t0);
