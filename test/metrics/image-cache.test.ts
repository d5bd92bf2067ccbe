/** Image verification cache metrics: lookups by outcome and registry-round latency, wired by the server. */
import t from 'tap';
import { Metrics } from '../../src/metrics/metrics.ts';
import { VerificationCache } from '../../src/images/index.ts';

t.test('cache lookups and registry rounds are counted', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const cache = new VerificationCache<{ status: 'pass' | 'fail' | 'error' }>();
  cache.onEvent = (outcome, ms) => metrics.recordImageCache(outcome, ms);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const load = async () => { await gate; return { status: 'pass' as const }; };
  const first = cache.get('img', load);
  const second = cache.get('img', load);
  release();
  await Promise.all([first, second]);
  await cache.get('img', load);
  const text = await metrics.registry.metrics();
  t.match(text, /portcullis_image_verification_cache_total\{outcome="miss"\} 1/);
  t.match(text, /portcullis_image_verification_cache_total\{outcome="coalesced"\} 1/);
  t.match(text, /portcullis_image_verification_cache_total\{outcome="hit"\} 1/);
  t.match(text, /portcullis_image_verification_duration_seconds_count 1/);
});
