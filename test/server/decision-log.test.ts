import t from 'tap';
import { Writable } from 'node:stream';
import { tracingChannel } from 'node:diagnostics_channel';
import { pino, type LoggerOptions } from 'pino';
import { decisionFields, decisionLogFor } from '../../src/server/decision-log.ts';
import type { AdmissionRecord } from '../../src/server/plugins/admission.ts';

/** A pino logger writing into an array of raw lines, with a fixed clock so lines compare byte for byte. */
function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ name: 'portcullis', timestamp: () => ',"time":1764900000000', ...options }, stream);
  return { logger, lines };
}

const base: AdmissionRecord = {
  mode: 'validate', uid: '0f8e2c1a-0000-4000-8000-000000000001', kind: 'Pod', namespace: 'team-a', name: 'web-7d9f8b6c5-x2x9z',
  operation: 'CREATE', dryRun: false, allowed: false, failed: ['disallow-privileged-containers/privileged-containers', 'require-resource-limits/limits'],
  warnings: 2, patched: false, outcome: 'evaluated',
};

const records: Array<[string, AdmissionRecord, number]> = [
  ['a denied review', base, 0.412],
  ['an allowed mutation', { ...base, mode: 'mutate', allowed: true, failed: [], warnings: 0, patched: true, dryRun: true }, 12],
  ['strings that need JSON escapes', { ...base, uid: 'a"b\\c\nd\u0001é😀', name: '', namespace: 'x'.repeat(300), failed: ['p/"r"'] }, 1.5],
  ['a failurePolicy answer', { ...base, outcome: 'timeout', kind: 'Deployment' }, Number.NaN],
  ['an infinite duration', { ...base, outcome: 'error' }, Number.POSITIVE_INFINITY],
];

t.test('the decision line is byte-identical to pino\'s own line for the same record', async (t) => {
  for (const [what, rec, ms] of records) {
    const fast = capture();
    const slow = capture();
    let generic = 0;
    fast.logger.info = (() => { generic++; }) as typeof fast.logger.info;
    decisionLogFor(fast.logger)(rec, ms);
    t.equal(generic, 0, `${what}: written without pino's generic path`);
    slow.logger.info(decisionFields(rec, ms), 'admission decision');
    t.equal(fast.lines.length, 1, `${what}: one line`);
    t.equal(fast.lines[0], slow.lines[0], what);
    t.match(JSON.parse(fast.lines[0]!), { level: 30, uid: rec.uid, webhook: rec.mode, failed: rec.failed, msg: 'admission decision' }, `${what}: parses`);
  }
});

t.test('bindings are read per line, and the level is honoured', async (t) => {
  const { logger, lines } = capture();
  const log = decisionLogFor(logger);
  logger.setBindings({ replica: 'portcullis-7c9' });
  log(base, 1);
  t.match(JSON.parse(lines[0]!), { replica: 'portcullis-7c9', uid: base.uid });
  logger.level = 'warn';
  log(base, 1);
  t.equal(lines.length, 1, 'nothing written above info');
  logger.level = 'debug';
  log(base, 1);
  t.equal(lines.length, 2);
});

t.test('a logger that is not plain gets pino\'s generic path', async (t) => {
  const mixin = capture({ mixin: () => ({ zone: 'eu-1' }) });
  decisionLogFor(mixin.logger)(base, 1);
  t.match(JSON.parse(mixin.lines[0]!), { zone: 'eu-1', uid: base.uid }, 'mixin applied');

  const redacted = capture({ redact: ['uid'] });
  decisionLogFor(redacted.logger)(base, 1);
  t.equal(JSON.parse(redacted.lines[0]!).uid, '[Redacted]', 'redaction applied');

  const formatted = capture({ formatters: { log: (o) => ({ ...o, formatted: true }) } });
  decisionLogFor(formatted.logger)(base, 1);
  t.equal(JSON.parse(formatted.lines[0]!).formatted, true, 'log formatter applied');

  const serialized = capture({ serializers: { failed: (f: string[]) => f.length } });
  decisionLogFor(serialized.logger)(base, 1);
  t.equal(JSON.parse(serialized.lines[0]!).failed, 2, 'serializer applied');

  const prefixed = capture({ msgPrefix: '[webhook] ' });
  decisionLogFor(prefixed.logger)(base, 1);
  t.equal(JSON.parse(prefixed.lines[0]!).msg, '[webhook] admission decision', 'message prefix applied');
});

t.test('a diagnostics-channel subscriber to pino\'s asJson sees decision lines', async (t) => {
  const { logger, lines } = capture();
  const log = decisionLogFor(logger);
  const seen: unknown[] = [];
  const handlers = { start: (m: unknown) => seen.push(m), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  const channel = tracingChannel('pino_asJson');
  channel.subscribe(handlers);
  try {
    log(base, 1);
  } finally {
    channel.unsubscribe(handlers);
  }
  t.equal(seen.length, 1, 'traced through pino');
  t.equal(lines.length, 1);
  log(base, 1);
  t.equal(seen.length, 1, 'not traced once unsubscribed');
});

t.test('a disabled logger (fastify without a logger) writes nothing and does not throw', async (t) => {
  const noop = { info() {}, levelVal: 30 } as unknown as Parameters<typeof decisionLogFor>[0];
  t.doesNotThrow(() => decisionLogFor(noop)(base, 1));
});
