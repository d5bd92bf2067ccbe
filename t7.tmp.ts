import { compileExpression } from './src/cel/env.ts';
for (const e of ["object.?a + )", "object.a + )", "object.?abc.?d == + 1"]) { try { compileExpression(e); } catch (x) { console.log(e, '|', (x as Error).message); } }
import { rewriteOptionalSyntax } from './src/cel/optional.ts';
console.log(rewriteOptionalSyntax("object.?a + )").text);
