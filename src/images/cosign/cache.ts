/**
 * Verification result cache: LRU bounded, TTL per entry (short TTL for
 * failures, none for transient errors), single-flight so concurrent admissions
 * of one unseen image share one registry round. Keyed by image + attestor
 * configuration (see configKey).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface CacheOptions {
  /** Maximum entries (default 1000, Kyverno's default). */
  max?: number;
  /** TTL of successful verifications in ms (default 1 h, Kyverno's default). */
  ttlMs?: number;
  /** TTL of failed verifications in ms (default 30 s). */
  negativeTtlMs?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Callers that joined an in-flight verification. */
  coalesced: number;
  /** Verifications actually run. */
  loads: number;
}

export type CacheOutcome = 'hit' | 'miss' | 'coalesced';

export interface Cacheable {
  status: 'pass' | 'fail' | 'error';
}

export class VerificationCache<V extends Cacheable> {
  private readonly lru: LRUCache<string, V>;
  private readonly inflight = new Map<string, Promise<V>>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, coalesced: 0, loads: 0 };
  /** Optional hook for metrics (outcome, and for misses the load duration in ms). */
  onEvent?: (outcome: CacheOutcome, durationMs?: number) => void;

  constructor(options: CacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60 * 60 * 1000;
    this.negativeTtlMs = options.negativeTtlMs ?? 30 * 1000;
    this.lru = new LRUCache<string, V>({ max: options.max ?? 1000, ttl: this.ttlMs, ttlAutopurge: false });
  }

  /** Synchronous lookup (fast path). */
  peek(key: string): V | undefined {
    const v = this.lru.get(key);
    if (v !== undefined) {
      this.stats.hits++;
      this.onEvent?.('hit');
    }
    return v;
  }

  /** Cached value, or run `load` once for all concurrent callers of `key`. */
  get(key: string, load: () => Promise<V>): V | Promise<V> {
    const hit = this.peek(key);
    if (hit !== undefined) return hit;
    const pending = this.inflight.get(key);
    if (pending) {
      this.stats.coalesced++;
      this.onEvent?.('coalesced');
      return pending;
    }
    this.stats.misses++;
    this.stats.loads++;
    const started = performance.now();
    const p = load().then((v) => {
      this.store(key, v);
      this.onEvent?.('miss', performance.now() - started);
      return v;
    }).finally(() => {
      this.inflight.delete(key);
    });
    this.inflight.set(key, p);
    return p;
  }

  private store(key: string, v: V): void {
    if (v.status === 'pass') this.lru.set(key, v, { ttl: this.ttlMs });
    else if (v.status === 'fail' && this.negativeTtlMs > 0) this.lru.set(key, v, { ttl: this.negativeTtlMs });
    // 'error' (registry unreachable, timeout) is never cached: the next admission retries.
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}

const configKeys = new WeakMap<object, string>();

/** Stable JSON (sorted keys) for hashing configuration. */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(',')}}`;
}

/** Short hash of a configuration object, memoised per object identity (compile-once policies hit the memo). */
export function configKey(config: object): string {
  let k = configKeys.get(config);
  if (k === undefined) {
    k = createHash('sha256').update(stableStringify(config)).digest('base64url').slice(0, 22);
    configKeys.set(config, k);
  }
  return k;
}
