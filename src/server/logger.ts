/**
 * The server's logger: pino JSON lines, written in batches. One write(2) per
 * decision line costs more than the rest of the HTTP layer together, so lines
 * are collected up to BATCH_CHARS and flushed at least every `flushMs`, and on
 * exit (a normal exit or a crash). Only a SIGKILL (an OOM kill) can lose the
 * last `flushMs` of lines.
 *
 * The batch is an array of lines joined once per write: sonic-boom's own
 * minLength buffering appends to one string and measures its byte length on
 * every line, which copies the whole pending batch per line. A batch is
 * written synchronously (pino's default, and Node's for stdout pipes): one
 * write(2) per ~16 KiB costs little, and nothing is in flight when the process
 * exits, so the exit flush is complete and in order. A full stdout pipe makes
 * sonic-boom wait and retry rather than drop lines.
 */
import { openSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilentOrString } from 'pino';

const BATCH_CHARS = 16 * 1024;
const DEFAULT_FLUSH_MS = 250;

export interface LoggerOptions {
  level?: LevelWithSilentOrString;
  name?: string;
  /** File descriptor or path (default 1, stdout). */
  dest?: number | string;
  flushMs?: number;
}

type Sink = ReturnType<typeof pino.destination>;

/** Lines waiting for their batch, per open logger: flushed synchronously on exit. */
const open = new Set<LineBatch>();
process.on('exit', () => {
  for (const batch of open) batch.flushSync();
});

/** A pino destination that hands whole batches to a synchronous sonic-boom sink. */
class LineBatch {
  #lines: string[] = [];
  #chars = 0;
  readonly #sink: Sink;

  constructor(sink: Sink) {
    this.#sink = sink;
  }

  write(line: string): boolean {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= BATCH_CHARS) this.flush();
    return true;
  }

  /** The open batch to the sink, written now; a callback (pino's `logger.flush(cb)`) goes to the sink's flush. */
  flush(cb?: (err?: Error) => void): void {
    if (this.#chars > 0) this.#sink.write(this.#take());
    if (cb) this.#sink.flush(cb);
  }

  /** On exit: the open batch, written now. */
  flushSync(): void {
    try {
      this.flush();
    } catch {
      // the sink is already closed: nothing can be written
    }
  }

  #take(): string {
    const text = this.#lines.join('');
    this.#lines = [];
    this.#chars = 0;
    return text;
  }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  // A path is opened here, synchronously, so lines logged before an early exit have a file to go to.
  const dest = typeof options.dest === 'string' ? openSync(options.dest, 'a') : options.dest ?? 1;
  const sink = pino.destination({ dest, sync: true });
  const batch = new LineBatch(sink);
  open.add(batch);
  const timer = setInterval(() => batch.flush(), options.flushMs ?? DEFAULT_FLUSH_MS);
  timer.unref();
  sink.once('close', () => {
    clearInterval(timer);
    open.delete(batch);
  });
  return pino({ level: options.level ?? 'info', ...(options.name ? { name: options.name } : {}) }, batch);
}
