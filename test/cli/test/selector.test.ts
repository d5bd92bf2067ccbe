import t from 'tap';
import { applySelector, parseSelector } from '../../../src/cli/test/selector.ts';
import { parseTest } from '../../../src/cli/test/spec.ts';

const spec = parseTest({
  results: [
    { policy: 'require-labels', rule: 'check-app', kind: 'Pod', resources: ['good', 'bad'], result: 'pass' },
    { policy: 'require-labels', rule: 'check-team', kind: 'Pod', resources: ['good'], result: 'pass' },
    { policy: 'add-team', rule: 'add', kind: 'Pod', resources: ['ns/bad'], result: 'pass' },
  ],
});

t.test('parseSelector: defaults to * and reports unknown keys', async (t) => {
  t.same(parseSelector('policy=require-*').selector, { policy: 'require-*', rule: '*', resource: '*' });
  t.same(parseSelector(' policy = a , rule = b, resource = c ').selector, { policy: 'a', rule: 'b', resource: 'c' });
  t.equal(parseSelector('kind=Pod, oops').errors.length, 2);
});

t.test('applySelector filters by policy and rule wildcards, and narrows resources', async (t) => {
  t.same(applySelector(spec.results, parseSelector('policy=require-*').selector).map((e) => e.rule), ['check-app', 'check-team']);
  t.same(applySelector(spec.results, parseSelector('rule=check-?eam').selector).map((e) => e.rule), ['check-team']);
  const byResource = applySelector(spec.results, parseSelector('resource=bad').selector);
  t.same(byResource.map((e) => [e.rule, e.resources]), [['check-app', ['bad']], ['add', ['ns/bad']]]);
});
