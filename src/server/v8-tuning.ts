/**
 * V8 settings for the long-running webhook process, applied when the server
 * starts (so the image, `npm start` and `portcullis serve` all get them).
 *
 * Maglev, V8's mid-tier JIT, is turned off. On the admission path it gains
 * nothing measurable over Sparkplug + TurboFan, but its compilations take
 * 15–20 MiB of malloc'd memory under load, which the allocator then keeps
 * resident: peak RSS at saturation is ~20 MiB lower without it (BENCHMARKS.md).
 *
 * Scavenges (young-generation GCs, ~0.3 ms each, every ~10 ms under load) run
 * on the main thread alone. A parallel scavenge waits for V8's helper threads,
 * and on a pod's one or two CPUs, shared with TLS work or throttled by a CPU
 * limit, they are often not running: the waits were the server's p99 at a
 * moderate rate (4 ms against 3 ms at the same rate in the same setup).
 *
 * Neither is a NODE_OPTIONS-allowed flag, hence set here rather than in the image.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneV8ForServing(): void {
  setFlagsFromString('--no-maglev');
  setFlagsFromString('--no-parallel-scavenge');
}
