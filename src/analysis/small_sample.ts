// Statistics for a handful of seeds per arm: Welch's interval for a difference of two means and the exact
// permutation test. Neither resamples. With three values per arm a bootstrap only re-weights the same three
// numbers and gives intervals that are far too narrow; the permutation test enumerates every split instead (3 against
// 3: 20 splits, so the smallest one-sided p is 1/20 = 0.05, reached only when the two groups separate completely).
// Checked against scipy (test/reference/small_sample_stats.py → test/fixtures/stats/small_sample.json).

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of the incomplete beta function (modified Lentz), for x < (a + 1)/(a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` > 0 degrees of freedom (not necessarily whole: Welch's df is not). */
export function studentTCdf(t: number, df: number): number {
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, ½) = 1 − I_{t²/(df+t²)}(½, df/2); near t = 0 the second form keeps the digits
  // that 1 − df/(df + t²) would cancel away.
  const t2 = t * t;
  const twoTailed = t2 < df ? 1 - regularizedIncompleteBeta(t2 / (df + t2), 0.5, df / 2) : regularizedIncompleteBeta(df / (df + t2), df / 2, 0.5);
  const tail = 0.5 * twoTailed;
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom, by bisection on the CDF (to ~1e-12). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) throw new RangeError(`studentTQuantile needs 0 < p < 1 and df > 0, got p=${p}, df=${df}`);
  let lo = -1;
  let hi = 1;
  while (studentTCdf(lo, df) > p) lo *= 2;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/** Sample variance (ddof 1). */
function variance(values: readonly number[]): number {
  const m = mean(values);
  return values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1);
}

export interface WelchInterval {
  /** mean(a) − mean(b). */
  difference: number;
  low: number;
  high: number;
  /** Welch–Satterthwaite degrees of freedom (null when both samples have no spread: the interval is a point). */
  df: number | null;
  standardError: number;
  level: number;
}

/**
 * Welch's interval for mean(a) − mean(b) (unequal variances): d ± t_{(1+level)/2, ν}·se, se² = s_a²/n_a + s_b²/n_b,
 * ν the Welch–Satterthwaite df. Needs at least two values in each sample; null otherwise.
 */
export function welchInterval(a: readonly number[], b: readonly number[], level = 0.95): WelchInterval | null {
  if (a.length < 2 || b.length < 2) return null;
  const difference = mean(a) - mean(b);
  const qa = variance(a) / a.length;
  const qb = variance(b) / b.length;
  const standardError = Math.sqrt(qa + qb);
  if (standardError === 0) return { difference, low: difference, high: difference, df: null, standardError, level };
  const df = (qa + qb) ** 2 / (qa ** 2 / (a.length - 1) + qb ** 2 / (b.length - 1));
  const t = studentTQuantile((1 + level) / 2, df);
  return { difference, low: difference - t * standardError, high: difference + t * standardError, df, standardError, level };
}

export interface PermutationResult {
  /** P(difference ≤ observed) over every split of the pooled values: the one-sided p for "a below b". */
  less: number;
  /** P(difference ≥ observed): the one-sided p for "a above b". */
  greater: number;
  /** Number of splits enumerated, C(n_a + n_b, n_a); 1/splits is the smallest p possible. */
  splits: number;
}

/** Most splits enumerated: C(20, 10) = 184,756 fits; a study with more seeds than that wants another test. */
const MAX_SPLITS = 2_000_000;

/**
 * The exact permutation test of mean(a) − mean(b): every way of splitting the pooled values into groups of the two
 * sizes is enumerated (no sampling), and the observed difference is ranked among them.
 */
export function exactPermutationTest(a: readonly number[], b: readonly number[]): PermutationResult {
  if (a.length === 0 || b.length === 0) throw new RangeError('the permutation test needs at least one value in each sample');
  const pooled = [...a, ...b];
  const n = pooled.length;
  const k = a.length;
  let splits = 1;
  for (let i = 1; i <= k; i++) splits = (splits * (n - k + i)) / i;
  splits = Math.round(splits);
  if (splits > MAX_SPLITS) throw new RangeError(`${splits} splits is too many to enumerate (at most ${MAX_SPLITS})`);
  const total = pooled.reduce((s, v) => s + v, 0);
  const observed = mean(a) - mean(b);
  // Ties within rounding count as ties: the same split reached through another order of additions.
  const tolerance = 1e-9 * Math.max(1, ...pooled.map(Math.abs));
  let less = 0;
  let greater = 0;
  const chosen: number[] = [];
  const visit = (start: number, sum: number): void => {
    if (chosen.length === k) {
      const d = sum / k - (total - sum) / (n - k);
      if (d <= observed + tolerance) less++;
      if (d >= observed - tolerance) greater++;
      return;
    }
    for (let i = start; i <= n - (k - chosen.length); i++) {
      chosen.push(i);
      visit(i + 1, sum + pooled[i]);
      chosen.pop();
    }
  };
  visit(0, 0);
  return { less: less / splits, greater: greater / splits, splits };
}
