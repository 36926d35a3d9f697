/**
 * Order statistics for the optimizer diagnostics, in O(n) (quickselect) so they stay cheap on ~1.7M weights.
 */
import type { Quantiles } from './types.ts';

/** Rearranges a[lo..hi] so that a[k] is the value it would have if a were sorted (Hoare quickselect). */
function select(a: Float64Array, k: number, lo: number, hi: number): void {
  while (hi > lo) {
    // median of three as pivot
    const mid = (lo + hi) >>> 1;
    let x = a[lo];
    let y = a[mid];
    let z = a[hi];
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Quantiles at the given probabilities (ascending), numpy's default "linear" definition: the value at position
 * q·(n − 1) of the sorted sample, interpolated between neighbours. Reorders `values` in place. n must be > 0.
 */
export function quantilesInPlace(values: Float64Array, probabilities: readonly number[]): number[] {
  const n = values.length;
  if (n === 0) throw new Error('quantiles of an empty sample');
  const out: number[] = [];
  let lo = 0;
  for (const q of probabilities) {
    const pos = q * (n - 1);
    const k = Math.floor(pos);
    select(values, k, lo, n - 1);
    lo = k;
    const below = values[k];
    const frac = pos - k;
    if (frac === 0 || k + 1 >= n) {
      out.push(below);
      continue;
    }
    // After select, everything right of k is >= values[k]: the next order statistic is their minimum.
    let above = Infinity;
    for (let i = k + 1; i < n; i++) if (values[i] < above) above = values[i];
    out.push(below + (above - below) * frac);
  }
  return out;
}

export function fiveQuantiles(values: Float64Array): Quantiles | null {
  if (values.length === 0) return null;
  const [p5, p25, p50, p75, p95] = quantilesInPlace(values, [0.05, 0.25, 0.5, 0.75, 0.95]);
  return { p5, p25, p50, p75, p95, count: values.length };
}

export function median(values: Float64Array): number | null {
  if (values.length === 0) return null;
  return quantilesInPlace(values, [0.5])[0];
}

/** Σ x² in float64. */
export function sumSquares(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

/** Growable float64 buffer for ratio samples. */
export class SampleBuffer {
  private data: Float64Array;
  length = 0;

  constructor(capacity = 1024) {
    this.data = new Float64Array(Math.max(16, capacity));
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    const next = new Float64Array(Math.max(this.data.length * 2, this.length + extra));
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }

  push(value: number): void {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = value;
  }

  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}
