/**
 * The table of Kyverno's custom JMESPath functions: names, argument types and
 * handlers. Kyverno's versions replace the community built-ins of the same
 * name (replace, split, items, sum, trim).
 */
import {
  TYPE_ANY, TYPE_ARRAY, TYPE_NUMBER, TYPE_OBJECT, TYPE_STRING,
} from '@jmespath-community/jmespath';
import type { JsonValue } from '../types.ts';
import * as arith from './arithmetic.ts';
import * as data from './data.ts';
import * as s from './strings.ts';
import * as t from './timefns.ts';
import { x509Decode } from './x509.ts';
import { functionError } from './errors.ts';

type ArgType = number;
export interface KyvernoFunction {
  name: string;
  args: ArgType[][];
  handler: (args: JsonValue[]) => JsonValue;
}

const S: ArgType[] = [TYPE_STRING], N: ArgType[] = [TYPE_NUMBER], O: ArgType[] = [TYPE_OBJECT];
const A: ArgType[] = [TYPE_ARRAY], ANY: ArgType[] = [TYPE_ANY], SN: ArgType[] = [TYPE_STRING, TYPE_NUMBER];

/** image_normalize delegates here; the images module may install Kyverno's full parser. */
let imageNormalizer: (image: string) => string = defaultImageNormalize;

export function setImageNormalizer(fn: (image: string) => string): void {
  imageNormalizer = fn;
}

const refRe = /^(?:([^/]+)\/)?([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$/;

/** docker.io defaults: `nginx` → `docker.io/library/nginx:latest`; a digest wins over a tag. */
function defaultImageNormalize(image: string): string {
  let registry = '';
  let rest = image;
  const slash = image.indexOf('/');
  if (slash > 0) {
    const first = image.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = image.slice(slash + 1);
    }
  }
  const m = refRe.exec(rest);
  if (!m) throw new Error(`invalid image reference: ${image}`);
  const path = m[1] ? `${m[1]}/${m[2]}` : m[2]!;
  if (!registry) registry = 'docker.io';
  const fullPath = registry === 'docker.io' && !path.includes('/') ? `library/${path}` : path;
  if (m[4]) return `${registry}/${fullPath}@${m[4]}`;
  return `${registry}/${fullPath}:${m[3] ?? 'latest'}`;
}

export const kyvernoFunctions: KyvernoFunction[] = [
  { name: 'compare', args: [S, S], handler: s.compare },
  { name: 'equal_fold', args: [S, S], handler: s.equalFold },
  { name: 'replace', args: [S, S, S, N], handler: s.replace },
  { name: 'replace_all', args: [S, S, S], handler: s.replaceAll },
  { name: 'to_upper', args: [S], handler: s.toUpper },
  { name: 'to_lower', args: [S], handler: s.toLower },
  { name: 'trim', args: [S, S], handler: s.trim },
  { name: 'trim_prefix', args: [S, S], handler: s.trimPrefix },
  { name: 'split', args: [S, S], handler: s.split },
  { name: 'regex_replace_all', args: [S, SN, SN], handler: s.regexReplaceAll },
  { name: 'regex_replace_all_literal', args: [S, SN, SN], handler: s.regexReplaceAllLiteral },
  { name: 'regex_match', args: [S, SN], handler: s.regexMatch },
  { name: 'pattern_match', args: [S, SN], handler: s.patternMatch },
  { name: 'label_match', args: [O, O], handler: data.labelMatch },
  { name: 'to_boolean', args: [S], handler: s.toBoolean },
  { name: 'add', args: [ANY, ANY], handler: arith.add },
  { name: 'sum', args: [A], handler: arith.sum },
  { name: 'subtract', args: [ANY, ANY], handler: arith.subtract },
  { name: 'multiply', args: [ANY, ANY], handler: arith.multiply },
  { name: 'divide', args: [ANY, ANY], handler: arith.divide },
  { name: 'modulo', args: [ANY, ANY], handler: arith.modulo },
  { name: 'round', args: [N, N], handler: arith.round },
  { name: 'base64_decode', args: [S], handler: data.base64Decode },
  { name: 'base64_encode', args: [S], handler: data.base64Encode },
  { name: 'time_since', args: [S, S, S], handler: t.timeSince },
  { name: 'time_now', args: [], handler: t.timeNow },
  { name: 'time_now_utc', args: [], handler: t.timeNowUtc },
  { name: 'path_canonicalize', args: [S], handler: s.pathCanonicalize },
  { name: 'truncate', args: [S, N], handler: s.truncate },
  { name: 'semver_compare', args: [S, S], handler: data.semverCompare },
  { name: 'parse_json', args: [S], handler: data.parseJson },
  { name: 'parse_yaml', args: [S], handler: data.parseYaml },
  { name: 'lookup', args: [[TYPE_OBJECT, TYPE_ARRAY] as ArgType[], SN], handler: data.lookup },
  { name: 'items', args: [[TYPE_OBJECT, TYPE_ARRAY] as ArgType[], S, S], handler: data.items },
  { name: 'object_from_lists', args: [A, A], handler: data.objectFromLists },
  { name: 'random', args: [S], handler: data.random },
  { name: 'x509_decode', args: [S], handler: x509Decode },
  { name: 'time_to_cron', args: [S], handler: t.timeToCron },
  { name: 'time_add', args: [S, S], handler: t.timeAdd },
  { name: 'time_parse', args: [S, S], handler: t.timeParse },
  { name: 'time_utc', args: [S], handler: t.timeUtc },
  { name: 'time_diff', args: [S, S], handler: t.timeDiff },
  { name: 'time_before', args: [S, S], handler: t.timeBefore },
  { name: 'time_after', args: [S, S], handler: t.timeAfter },
  { name: 'time_between', args: [S, S, S], handler: t.timeBetween },
  { name: 'time_truncate', args: [S, S], handler: t.timeTruncate },
  {
    name: 'image_normalize', args: [S], handler: (args) => {
      try {
        return imageNormalizer(args[0] as string);
      } catch (e) {
        throw functionError('image_normalize', (e as Error).message);
      }
    },
  },
  { name: 'sha256', args: [S], handler: data.sha256 },
  { name: 'sha1', args: [S], handler: data.sha1 },
  { name: 'md5', args: [S], handler: data.md5 },
  { name: 'is_external_url', args: [S], handler: data.isExternalUrl },
];
