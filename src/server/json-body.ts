/**
 * Request body parsing for admission: JSON only, with a nesting-depth guard
 * (a deeply nested body would otherwise exhaust the stack in the parser or
 * later in the engine). Errors never echo the body (it may hold Secret data).
 */

export class BodyError extends Error {
  readonly statusCode: number;
  readonly code: string;
  constructor(statusCode: number, code: string, message: string) {
    super(message);
    this.name = 'BodyError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** Maximum nesting of objects/arrays; real Kubernetes objects stay far below. */
export const DEFAULT_MAX_DEPTH = 128;

/**
 * Whether the deepest object/array in JSON text nests deeper than `limit`.
 * Every level needs an opening bracket, so text with at most `limit` of them
 * (a Pod has ~70) is answered by native indexOf alone. Otherwise the exact
 * scan skips strings (most of a Kubernetes object's text) with indexOf and
 * visits only the characters between them.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  if (!moreOpenersThan(text, limit)) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = closingQuote(text, i);
      if (i < 0) return false; // unterminated string: JSON.parse rejects the text
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

function moreOpenersThan(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) if (++n > limit) return true;
  for (let i = text.indexOf('['); i >= 0; i = text.indexOf('[', i + 1)) if (++n > limit) return true;
  return false;
}

/** Index of the quote closing the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  while (q > 0) {
    // Escaped when preceded by an odd number of backslashes.
    let slashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === 0x5c; k--) slashes++;
    if ((slashes & 1) === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return -1;
}

export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new BodyError(400, 'PORTCULLIS_BODY_TOO_DEEP', `request body nests deeper than ${maxDepth} levels`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BodyError(400, 'PORTCULLIS_BODY_NOT_JSON', 'request body is not valid JSON');
  }
}
