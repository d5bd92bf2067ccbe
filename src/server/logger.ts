/**
 * The server's logger: pino JSON lines, written in batches. One write(2) per
 * decision line costs more than the rest of the HTTP layer together, so lines
 * are buffered up to BATCH_BYTES and flushed at least every `flushMs`; pino's
 * exit hook flushes synchronously on a normal exit or a crash. Only a SIGKILL
 * (an OOM kill) can lose the last `flushMs` of lines.
 */
import { pino, type Logger, type LevelWithSilentOrString } from 'pino';

const BATCH_BYTES = 8 * 1024;
const DEFAULT_FLUSH_MS = 250;

export interface LoggerOptions {
  level?: LevelWithSilentOrString;
  name?: string;
  /** File descriptor or path (default 1, stdout). */
  dest?: number | string;
  flushMs?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = pino.destination({ dest: options.dest ?? 1, sync: false, minLength: BATCH_BYTES });
  // Flushing needs an open file: a path destination opens asynchronously.
  stream.once('ready', () => {
    const timer = setInterval(() => {
      try {
        stream.flush();
      } catch {
        // destroyed while the timer was pending: nothing left to flush
      }
    }, options.flushMs ?? DEFAULT_FLUSH_MS);
    timer.unref();
    stream.once('close', () => clearInterval(timer));
  });
  return pino({ level: options.level ?? 'info', ...(options.name ? { name: options.name } : {}) }, stream);
}
