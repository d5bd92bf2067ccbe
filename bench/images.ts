/**
 * Image verification benchmark against a real docker-registry on loopback with
 * a signature made by the real cosign CLI (the test harness):
 *  - cold: full verification (manifest HEAD, signature manifest and layer, ECDSA
 *    check) with the cache bypassed — p50/p99;
 *  - warm: a cache hit, µs per image;
 *  - 1,000 concurrent verifications of one unseen image: how many registry
 *    rounds (target: exactly one) and whether all were answered.
 * Baseline in the same run: one bare HTTP GET of the registry's /v2/ endpoint.
 */
import { startRegistry, pushImage } from '../test/support/registry/harness.ts';
import { generateKeyPair, signImage } from '../test/support/cosign/tools.ts';
import { RegistryClient, verifyImageSignatures, VerificationCache, closeHttpAgents, type AttestorSet, type VerificationResult } from '../src/images/index.ts';

export interface ImageBenchResult {
  coldP50Ms: number;
  coldP99Ms: number;
  warmUs: number;
  baselineGetP50Ms: number;
  concurrent: number;
  registryRounds: number;
  allAnswered: boolean;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

export async function runImageBench(): Promise<ImageBenchResult> {
  const registry = await startRegistry();
  const key = await generateKeyPair();
  try {
    const A = registry.address;
    const refs = [`${A}/bench/app:1`, `${A}/bench/fresh:1`];
    const digests = await Promise.all(refs.map((r) => pushImage(r)));
    await Promise.all(refs.map((r, i) => signImage(`${r.split(':1')[0]}@${digests[i]}`, key)));
    const attestors: AttestorSet[] = [{ entries: [{ keys: { publicKeys: key.publicKeyPem, rekor: { ignoreTlog: true } } }] }];
    const client = new RegistryClient();

    const base: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await fetch(`http://${A}/v2/`).then((r) => r.arrayBuffer());
      base.push(performance.now() - t0);
    }

    const cold: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      const r = await verifyImageSignatures(refs[0]!, attestors, { client, useCache: false });
      if (r.status !== 'pass') throw new Error(r.message);
      if (i >= 10) cold.push(performance.now() - t0);
    }

    const cache = new VerificationCache<VerificationResult>();
    await verifyImageSignatures(refs[0]!, attestors, { client, cache });
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) verifyImageSignatures(refs[0]!, attestors, { client, cache });
    const warmUs = Number(process.hrtime.bigint() - t0) / 1000 / n;

    const fresh = new VerificationCache<VerificationResult>();
    const concurrent = 1000;
    const results = await Promise.all(Array.from({ length: concurrent }, () => verifyImageSignatures(refs[1]!, attestors, { client, cache: fresh })));
    return {
      coldP50Ms: pct(cold, 0.5), coldP99Ms: pct(cold, 0.99), warmUs, baselineGetP50Ms: pct(base, 0.5),
      concurrent, registryRounds: fresh.stats.loads, allAnswered: results.every((r) => r.status === 'pass'),
    };
  } finally {
    closeHttpAgents();
    await key.cleanup();
    await registry.stop();
  }
}

export function imageBenchMarkdown(r: ImageBenchResult): string {
  return `## Image verification (cosign, real registry on loopback)

One image signed by the real \`cosign\` CLI in a local \`docker-registry\`, verified with a P-256 key.
Baseline: a bare HTTP GET of the registry's \`/v2/\` endpoint in the same run.

| measure | value | baseline |
| --- | ---: | ---: |
| cold verification p50 (cache bypassed) | ${r.coldP50Ms.toFixed(2)} ms | ${r.baselineGetP50Ms.toFixed(2)} ms per GET |
| cold verification p99 | ${r.coldP99Ms.toFixed(2)} ms | |
| warm (cache hit) per image | ${r.warmUs.toFixed(2)} µs | target < 50 µs |
| ${r.concurrent} concurrent admissions of one unseen image | ${r.registryRounds} registry round(s), ${r.allAnswered ? 'all answered' : 'NOT all answered'} | target: exactly one |`;
}

if (import.meta.main) {
  const r = await runImageBench();
  console.log(r);
  console.log(imageBenchMarkdown(r));
}
