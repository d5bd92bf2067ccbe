/**
 * V8 settings for the long-running webhook process, applied when the server
 * starts (so the image, `npm start` and `portcullis serve` all get them).
 *
 * Maglev, V8's mid-tier JIT, is turned off. On the admission path it gains
 * nothing measurable over Sparkplug + TurboFan, but its compilations take
 * 15–20 MiB of malloc'd memory under load, which the allocator then keeps
 * resident: peak RSS at saturation is ~20 MiB lower without it (BENCHMARKS.md).
 * It is not a NODE_OPTIONS-allowed flag, hence set here rather than in the image.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneV8ForServing(): void {
  setFlagsFromString('--no-maglev');
}
