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

/** Depth of the deepest object/array in JSON text, stopping early once past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
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
