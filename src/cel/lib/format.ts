/**
 * Kubernetes CEL format library (k8s.io/apiserver/pkg/cel/library format.go):
 * `format.dns1123Label()` … `format.datetime()` and `format.named(name)` give a
 * Format; `<Format>.validate(s)` is none when `s` is valid, else the list of
 * apimachinery's validation messages for it.
 */
import { CelScalar, celFunc, celList, celMethod, type CelFunc } from '@bufbuild/cel';
import { opaqueType, self, wrap } from '../opaque.ts';
import { NONE, some } from '../optional.ts';

type Validate = (s: string) => string[];

// apimachinery/pkg/util/validation: message builders and formats.
const maxLenError = (n: number) => `must be no more than ${n} characters`;
const EMPTY_ERROR = 'must be non-empty';
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join('or ')}regex used for validation is '${fmt}')`;
}
const anchored = (fmt: string) => new RegExp(`^(?:${fmt})$`);

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const dns1123Label = anchored(DNS1123_LABEL_FMT);
const dns1123Subdomain = anchored(DNS1123_SUBDOMAIN_FMT);
const dns1035Label = anchored(DNS1035_LABEL_FMT);
const qualifiedName = anchored(QUALIFIED_NAME_FMT);
const labelValue = anchored(LABEL_VALUE_FMT);
const QUALIFIED_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** apimachinery's pattern checks: a length limit, then the anchored regex (with its message and examples). */
function lengthAndPattern(max: number, re: RegExp, message: string, fmt: string, ...examples: string[]): Validate {
  return (s) => {
    const errs: string[] = [];
    if (s.length > max) errs.push(maxLenError(max));
    if (!re.test(s)) errs.push(regexError(message, fmt, ...examples));
    return errs;
  };
}
const isDNS1123Label = lengthAndPattern(63, dns1123Label,
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
  DNS1123_LABEL_FMT, 'my-name', '123-abc');
const isDNS1123Subdomain = lengthAndPattern(253, dns1123Subdomain,
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
  DNS1123_SUBDOMAIN_FMT, 'example.com');
const isDNS1035Label = lengthAndPattern(63, dns1035Label,
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
  DNS1035_LABEL_FMT, 'my-name', 'abc-123');
function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push(`prefix part ${EMPTY_ERROR}`);
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [`a qualified name ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) errs.push(`name part ${EMPTY_ERROR}`);
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!qualifiedName.test(name)) errs.push(`name part ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}
const isValidLabelValue = lengthAndPattern(63, labelValue,
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
  LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345');

/** apimachinery's name validation with `prefix`: a trailing dash stands for a generated suffix. */
function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name;
}
const asName = (check: Validate, prefix: boolean): Validate => (s) => check(prefix ? maskTrailingDash(s) : s);

/** Go's url.ParseRequestURI, its scheme and path checks: an absolute URI or an absolute path. */
function parseRequestURI(s: string): string[] {
  const fail = (why: string) => [`parse ${JSON.stringify(s)}: ${why}`];
  if (/[\x00-\x1f\x7f]/.test(s)) return fail('net/url: invalid control character in URL');
  if (s === '') return fail('empty url');
  if (s === '*' || s.startsWith('/') || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s)) return [];
  return fail(s.startsWith(':') ? 'missing protocol scheme' : 'invalid URI for request');
}

const UUID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

function validDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}
/** strfmt's date-time: a full date, `T`, and an RFC 3339 time (either case). */
function validDateTime(s: string): boolean {
  const lower = s.toLowerCase();
  const t = lower.indexOf('t');
  return t > 0 && validDate(lower.slice(0, t)) && TIME.test(lower.slice(t + 1));
}
const check = (ok: (s: string) => boolean, message: string): Validate => (s) => (ok(s) ? [] : [message]);

const FORMATS: Record<string, Validate> = {
  dns1123Label: asName(isDNS1123Label, false),
  dns1123Subdomain: asName(isDNS1123Subdomain, false),
  dns1035Label: asName(isDNS1035Label, false),
  qualifiedName: isQualifiedName,
  dns1123LabelPrefix: asName(isDNS1123Label, true),
  dns1123SubdomainPrefix: asName(isDNS1123Subdomain, true),
  dns1035LabelPrefix: asName(isDNS1035Label, true),
  labelValue: isValidLabelValue,
  uri: parseRequestURI,
  uuid: check((s) => UUID.test(s), 'does not match the UUID format'),
  byte: check((s) => BASE64.test(s), 'invalid base64'),
  date: check(validDate, 'invalid date'),
  datetime: check(validDateTime, 'invalid datetime'),
};

const FORMAT = opaqueType('Format');
const formatValue = (name: string) => wrap('Format', FORMATS[name], name);

export const formatFuncs: CelFunc[] = [
  ...Object.keys(FORMATS).map((name) => celFunc(`format.${name}`, [], FORMAT, () => formatValue(name))),
  celFunc('format.named', [CelScalar.STRING], opaqueType('Optional'), (name) => (Object.hasOwn(FORMATS, name) ? some(formatValue(name)) : NONE)),
  celMethod('validate', FORMAT, [CelScalar.STRING], opaqueType('Optional'), function (s) {
    const errors = self<Validate>('Format', this)(s);
    return errors.length === 0 ? NONE : some(celList(errors));
  }),
];
