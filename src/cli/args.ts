/**
 * Command-line parsing shared by the subcommands: node:util parseArgs, with a
 * usage error answered by the message and the usage text, and --help by the usage.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a command writes (stdout, or a buffer in tests). */
export interface Output {
  write(chunk: string): unknown;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>>;

/**
 * The parsed flags and positionals, or the exit code when the command is done:
 * `errorCode` after a usage error, 0 after --help (the options need a `help` flag).
 */
export function parseCommand<O extends Options>(argv: readonly string[], options: O, usage: string, out: Output, errorCode: number): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true });
  } catch (e) {
    out.write(`Error: ${(e as Error).message}\n\n${usage}`);
    return errorCode;
  }
  if ((parsed.values as Record<string, unknown>).help) {
    out.write(usage);
    return 0;
  }
  return parsed;
}
