/**
 * The one info line per admission decision, written as pino writes it.
 *
 * pino's generic path (`logger.info(obj, msg)`) walks the object, picks a
 * serializer and a stringifier per key and concatenates ~30 pieces: ~2.4 µs per
 * line, the largest single cost of the HTTP layer after TLS and JSON parsing.
 * The decision line has a fixed shape, so it is built here in one template
 * from the logger's own pieces (level label, time function, bindings, line
 * end) and handed to the logger's stream: the same bytes, ~0.8 µs.
 *
 * Only for a plain logger: one with a mixin, log formatter, write hooks,
 * nested key, message prefix, redaction or serializers, a stream that reads
 * per-line metadata (pino.multistream), or a diagnostics-channel subscriber
 * gets `logger.info` itself. The test holds the two paths byte-identical; the one
 * difference is a lone UTF-16 surrogate in a short string, which pino writes raw
 * (invalid UTF-8 on output) and this line escapes as `\udXXX`, as JSON.stringify does.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import type { AdmissionRecord } from './plugins/admission.ts';

export type DecisionLog = (rec: AdmissionRecord, durationMs: number) => void;

const MESSAGE = 'admission decision';
const INFO = 30;
const S = pino.symbols;
// Present at run time, missing from pino's type declarations.
const msgPrefixSym = (S as unknown as Record<string, symbol>).msgPrefixSym!;
const FIELDS = ['uid', 'webhook', 'kind', 'namespace', 'name', 'operation', 'dryRun', 'allowed', 'failed', 'warnings', 'patched', 'outcome', 'durationMs'];

// pino traces asJson on this channel; a subscriber must see every line go through it.
const asJsonTrace = tracingChannel('pino_asJson');

/** The record as pino's generic path receives it (key order is the line's order). */
export function decisionFields(rec: AdmissionRecord, durationMs: number): Record<string, unknown> {
  return {
    uid: rec.uid, webhook: rec.mode, kind: rec.kind, namespace: rec.namespace, name: rec.name,
    operation: rec.operation, dryRun: rec.dryRun, allowed: rec.allowed, failed: rec.failed,
    warnings: rec.warnings, patched: rec.patched, outcome: rec.outcome, durationMs,
  };
}

/** `logger`: pino (plain or not), or fastify's no-op logger when logging is off. */
export function decisionLogFor(logger: FastifyBaseLogger): DecisionLog {
  const generic: DecisionLog = (rec, durationMs) => logger.info(decisionFields(rec, durationMs), MESSAGE);
  if (!isPlain(logger)) return generic;
  const l = logger as unknown as Record<symbol, unknown>;
  const levelPrefix = (l[S.lsCacheSym] as Record<number, string>)[INFO]!;
  const time = l[S.timeSym] as () => string;
  const stream = l[S.streamSym] as { write(line: string): unknown };
  const end = l[S.endSym] as string;
  const level = logger as unknown as { levelVal: number };
  return (rec, durationMs) => {
    if (level.levelVal > INFO) return;
    if (asJsonTrace.hasSubscribers) return generic(rec, durationMs);
    let failed = '[';
    for (let i = 0; i < rec.failed.length; i++) failed += (i === 0 ? '' : ',') + str(rec.failed[i]!);
    // Bindings are read per line: `logger.setBindings` may change them at run time.
    stream.write(`${levelPrefix}${time()}${l[S.chindingsSym] as string},"uid":${str(rec.uid)},"webhook":"${rec.mode}","kind":${str(rec.kind)},`
      + `"namespace":${str(rec.namespace)},"name":${str(rec.name)},"operation":${str(rec.operation)},"dryRun":${rec.dryRun},`
      + `"allowed":${rec.allowed},"failed":${failed}],"warnings":${num(rec.warnings)},"patched":${rec.patched},"outcome":"${rec.outcome}",`
      + `"durationMs":${num(durationMs)},"msg":"${MESSAGE}"${end}`);
  };
}

function isPlain(logger: FastifyBaseLogger): boolean {
  const l = logger as unknown as Record<symbol, unknown>;
  const formatters = l[S.formattersSym] as { log?: unknown } | undefined;
  const hooks = l[S.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const serializers = (l[S.serializersSym] ?? {}) as Record<string, unknown>;
  const stringifiers = (l[S.stringifiersSym] ?? {}) as Record<string | symbol, unknown>;
  const stream = l[S.streamSym] as ({ write?: unknown } & Record<symbol, unknown>) | undefined;
  return typeof l[S.timeSym] === 'function' && typeof l[S.endSym] === 'string' && typeof l[S.chindingsSym] === 'string'
    && typeof (l[S.lsCacheSym] as Record<number, unknown> | undefined)?.[INFO] === 'string'
    && !l[S.mixinSym] && !formatters?.log && !hooks?.logMethod && !hooks?.streamWrite
    && !l[S.nestedKeySym] && !l[msgPrefixSym] && l[S.messageKeySym] === 'msg'
    && !stringifiers[S.wildcardFirstSym] && FIELDS.concat('msg').every((k) => !serializers[k] && !stringifiers[k])
    && typeof stream?.write === 'function' && stream[S.needsMetadataGsym] !== true;
}

// Strings as pino's asString writes them: JSON, with the short printable case
// (the usual one: names, uids) taken without JSON.stringify.
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
function str(s: string): string {
  return s.length < 256 && PLAIN_STRING.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** pino writes non-finite numbers as null. */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}
