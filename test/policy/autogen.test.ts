import t from 'tap';
import { expandAutogen, canAutogen, autogenControllers, autogenAnnotation } from '../../src/policy/autogen.ts';
import type { JsonObject } from '../../src/engine/types.ts';

const podRule = (extra: JsonObject = {}): JsonObject => ({
  name: 'check',
  match: { any: [{ resources: { kinds: ['Pod'] } }] },
  validate: { message: 'm', pattern: { spec: { containers: [{ image: '*:*' }] } } },
  ...extra,
});

t.test('a Pod rule gets an autogen rule for controllers and one for CronJob', async (t) => {
  const rules = expandAutogen([podRule()], undefined);
  t.same(rules.map((r) => r.name), ['check', 'autogen-check', 'autogen-cronjob-check']);
  const ctl = rules[1]!;
  t.same((ctl.match as any).any[0].resources.kinds,
    ['DaemonSet', 'Deployment', 'Job', 'ReplicaSet', 'ReplicationController', 'StatefulSet']);
  t.same((ctl.validate as any).pattern, { spec: { template: { spec: { containers: [{ image: '*:*' }] } } } });
  const cron = rules[2]!;
  t.same((cron.match as any).any[0].resources.kinds, ['CronJob']);
  t.same((cron.validate as any).pattern,
    { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ image: '*:*' }] } } } } } });
  t.equal((cron.validate as any).message, 'm');
});

t.test('variables that point into the Pod are rewritten into the template', async (t) => {
  const rule = podRule({
    validate: {
      deny: { conditions: { any: [{ key: '{{ request.object.spec.hostNetwork }}', operator: 'Equals', value: true }] } },
    },
    preconditions: { all: [{ key: '{{ request.object.metadata.labels.app }}', operator: 'Equals', value: 'x' }] },
  });
  const [, ctl, cron] = expandAutogen([rule], undefined);
  t.equal((ctl!.validate as any).deny.conditions.any[0].key, '{{ request.object.spec.template.spec.hostNetwork }}');
  t.equal((ctl!.preconditions as any).all[0].key, '{{ request.object.spec.template.metadata.labels.app }}');
  t.equal((cron!.validate as any).deny.conditions.any[0].key, '{{ request.object.spec.jobTemplate.spec.template.spec.hostNetwork }}');
  t.equal((cron!.preconditions as any).all[0].key, '{{ request.object.spec.jobTemplate.spec.template.metadata.labels.app }}');
});

t.test('the autogen-controllers annotation selects controllers or disables autogen', async (t) => {
  t.same(expandAutogen([podRule()], { [autogenAnnotation]: 'none' }).map((r) => r.name), ['check']);
  const only = expandAutogen([podRule()], { [autogenAnnotation]: 'Deployment,StatefulSet' });
  t.same(only.map((r) => r.name), ['check', 'autogen-check']);
  t.same((only[1]!.match as any).any[0].resources.kinds, ['Deployment', 'StatefulSet']);
  t.same(expandAutogen([podRule()], { [autogenAnnotation]: 'CronJob' }).map((r) => r.name), ['check', 'autogen-cronjob-check']);
  const custom = expandAutogen([podRule()], { [autogenAnnotation]: 'CloneSet,Deployment' });
  t.same((custom[1]!.match as any).any[0].resources.kinds, ['CloneSet', 'Deployment'], 'a custom controller named in the annotation gets the rule');
  t.same((custom[1]!.validate as any).pattern, { spec: { template: { spec: { containers: [{ image: '*:*' }] } } } });
  const spaced = expandAutogen([podRule()], { [autogenAnnotation]: 'Deployment, StatefulSet' });
  t.same((spaced[1]!.match as any).any[0].resources.kinds, [' StatefulSet', 'Deployment'], 'split without trimming, as Kyverno does');
});

t.test('autogen is needed only for kinds named exactly Pod or a controller', async (t) => {
  for (const kind of ['v1/Pod', '*/Pod', 'Pod/ephemeralcontainers']) {
    t.notOk(canAutogen([podRule({ match: { any: [{ resources: { kinds: [kind] } }] } })]), kind);
  }
  t.ok(canAutogen([podRule(), podRule({ name: 'other', match: { any: [{ resources: { kinds: ['v1/Pod'] } }] } })]), 'another rule naming Pod turns it on');
});

t.test('no autogen when rules name resources, select labels, mix kinds, or use JSON patches / generate', async (t) => {
  t.notOk(canAutogen([podRule({ match: { any: [{ resources: { kinds: ['Pod'], names: ['x'] } }] } })]));
  t.notOk(canAutogen([podRule({ match: { any: [{ resources: { kinds: ['Pod'], selector: { matchLabels: { a: 'b' } } } }] } })]));
  t.notOk(canAutogen([podRule({ match: { any: [{ resources: { kinds: ['Pod', 'Service'] } }] } })]));
  t.notOk(canAutogen([{ name: 'm', match: { any: [{ resources: { kinds: ['Pod'] } }] }, mutate: { patchesJson6902: '[]' } }]));
  t.notOk(canAutogen([podRule(), { name: 'g', match: { any: [{ resources: { kinds: ['Namespace'] } }] }, generate: {} }]));
  t.notOk(canAutogen([podRule({ match: { any: [{ resources: { kinds: ['Service'] } }] } })]), 'no Pod kind: nothing to generate');
  t.same(autogenControllers([podRule()], undefined).length, 7);
});

t.test('mutate patchStrategicMerge and foreach are wrapped under the template', async (t) => {
  const rule: JsonObject = {
    name: 'm',
    match: { any: [{ resources: { kinds: ['Pod'] } }] },
    mutate: { foreach: [{ list: 'request.object.spec.containers', patchStrategicMerge: { spec: { containers: [{ name: '{{element.name}}' }] } } }] },
  };
  const [, ctl, cron] = expandAutogen([rule], undefined);
  const fe = (ctl!.mutate as any).foreach[0];
  t.equal(fe.list, 'request.object.spec.template.spec.containers');
  t.same(fe.patchStrategicMerge, { spec: { template: { spec: { containers: [{ name: '{{element.name}}' }] } } } });
  t.equal((cron!.mutate as any).foreach[0].list, 'request.object.spec.jobTemplate.spec.template.spec.containers');
});

t.test('exclude blocks follow the kinds; rules excluding other kinds are not generated', async (t) => {
  const rule = podRule({ exclude: { any: [{ resources: { kinds: ['Pod'], namespaces: ['kube-system'] } }] } });
  const [, ctl] = expandAutogen([rule], undefined);
  t.same((ctl!.exclude as any).any[0].resources.kinds.length, 6);
  t.same((ctl!.exclude as any).any[0].resources.namespaces, ['kube-system']);
  const other = podRule({ exclude: { any: [{ resources: { kinds: ['Deployment'] } }] } });
  t.same(expandAutogen([other], undefined).map((r) => r.name), ['check']);
});

t.test('long names are cut at 63 characters like Kyverno', async (t) => {
  const name = 'x'.repeat(60);
  const rules = expandAutogen([podRule({ name })], undefined);
  t.equal(rules[1]!.name, `autogen-${name}`.slice(0, 63));
  t.equal(rules[2]!.name!.toString().length, 63);
});
