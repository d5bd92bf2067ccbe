import t from 'tap';
import { compileTemplate, scanPlaceholders } from '../../src/cel/gpol-template.ts';
import { toCelInput } from '../../src/cel/values.ts';

const bindings = (object: Record<string, unknown>) => ({ object: toCelInput(object as never) });

t.test('scanPlaceholders: nesting, CEL string literals and the \\(( escape', async (t) => {
  t.same(scanPlaceholders('a-(( x ))-b'), [{ literal: 'a-' }, { expression: 'x' }, { literal: '-b' }]);
  t.same(scanPlaceholders('(( string(f(x)) ))'), [{ expression: 'string(f(x))' }]);
  t.same(scanPlaceholders('(( ":)" + \'))\' ))'), [{ expression: '":)" + \'))\'' }]);
  t.same(scanPlaceholders('\\(( not )) ((y))'), [{ literal: '(( not )) ' }, { expression: 'y' }]);
  t.throws(() => scanPlaceholders('(( x'), /unterminated placeholder starting at offset 0/);
  t.throws(() => scanPlaceholders('((  ))'), /empty placeholder at offset 0/);
  t.throws(() => scanPlaceholders('(( a) ))'), /unbalanced parenthesis/);
  t.throws(() => scanPlaceholders('(( "x ))'), /unterminated string literal/);
});

t.test('compileTemplate: multi-document, empty documents skipped, anchors and merge keys outside placeholders', async (t) => {
  const tpl = compileTemplate([
    '---',
    'base: &b {app: web}',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: (( object.name ))',
    '  labels: *b',
    '---',
    '---',
    'apiVersion: v1',
    'kind: Secret',
    'metadata: {<<: {name: s}, namespace: ns}',
  ].join('\n'), true);
  const first = tpl.render(bindings({ name: 'n' }), undefined);
  t.same(first, [
    { base: { app: 'web' }, apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'n', labels: { app: 'web' } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' } },
  ]);
  (first[1]!.metadata as Record<string, unknown>).name = 'edited';
  t.equal((tpl.render(bindings({ name: 'n' }), undefined)[1]!.metadata as Record<string, unknown>).name, 's', 'each render gets fresh objects');
});

t.test('compileTemplate: a whole-document placeholder must yield a mapping; merge keys next to placeholders are refused', async (t) => {
  const whole = compileTemplate('(( object.doc ))', true);
  t.same(whole.render(bindings({ doc: { kind: 'ConfigMap' } }), undefined), [{ kind: 'ConfigMap' }]);
  t.throws(() => whole.render(bindings({ doc: 'text' }), undefined), /^document 1: expected a mapping describing a resource, got string$/);
  t.throws(() => compileTemplate('a:\n  <<: {b: c}\n  d: (( 1 ))\n', true), /line 2: YAML merge keys are not supported/);
  t.throws(() => compileTemplate('a: [b\n', true), /^failed to parse YAML/);
});

t.test('compileTemplate: render errors name the document, field and item', async (t) => {
  const tpl = compileTemplate('kind: A\n---\nkind: B\nitems:\n- ok\n- (( object.missing ))\n', true);
  t.throws(() => tpl.render(bindings({}), undefined),
    /^document 2: field "items": item 1: failed to evaluate placeholder "object.missing": no such key: missing$/);
});
