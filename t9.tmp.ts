import { compileExpression } from './src/cel/env.ts';
import { toCelInput, toJson } from './src/cel/values.ts';
const o = toCelInput({ metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x' }] } });
for (const e of [`Object{ metadata: Object.metadata{ labels: Object.metadata.labels{ foo: "bar" } } }`, `object.spec.containers.map(c, JSONPatch{op: "add", path: "/x/" + c.name, value: {}})`]) {
  console.log(JSON.stringify(toJson(compileExpression(e).evaluate({ object: o }))));
}
