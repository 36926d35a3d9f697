// The optimizer's diagnostics: plain numbers about its weights and buffers after a step (weight norms, |m|/|w|,
// the weight-decay signal against the gradient, the WD share of the first moment, the update's relative size, the
// share of weights whose Adam denominator ε dominates),
// read back with dataSync — O(number of weights), so the trainer calls it once per iteration, not per step.
import * as tf from '../tf.ts';
import { fiveQuantiles, median, SampleBuffer, sumSquares } from './stats.ts';
import type { MomentSplit, OptimizerDiagnostics, OptimizerName, SecondMoments, VariableState } from './types.ts';

export interface DiagnosticsInput {
  scheme: OptimizerName;
  /** Steps taken. */
  step: number;
  /** s_k of the last step, null before the first (or after setWeights). */
  lastMultiplier: number | null;
  weightDecay: number;
  trackLastStep: boolean;
  /** The first-moment slot and the factor that turns it into m, or null. */
  momentSlot: { slot: string; scale: number } | null;
  split: MomentSplit;
  secondMoments: SecondMoments;
  /** Variable name → state; variables no longer registered are skipped. */
  states: ReadonlyMap<string, VariableState>;
}

export function computeDiagnostics(input: DiagnosticsInput): OptimizerDiagnostics {
  const { states, momentSlot, split, lastMultiplier } = input;
  const registered = tf.engine().registeredVariables;
  const tracked = input.trackLastStep && lastMultiplier !== null;
  const lambdaT = input.weightDecay * (lastMultiplier ?? 0);

  const weightNorms: Record<string, number> = {};
  let total = 0;
  let decayedTotal = 0;
  const logRatios = new SampleBuffer();
  let anyMoment = false;
  const wdGrad = new SampleBuffer();
  let wdSq = 0;
  let gradSq = 0;
  let anyWdGrad = false;
  const momentWd = new SampleBuffer();
  const momentWdShare = new SampleBuffer();
  let momentWdSq = 0;
  let momentGradSq = 0;
  let anySplit = false;
  const updateNormRatios: Record<string, number> = {};
  let deltaSq = 0;
  let beforeSq = 0;
  // ε-dominance: √v̂_i < ε with v̂ = scale·slot/(1 − β2^t).
  const moments = input.secondMoments !== null && input.step > 0 ? input.secondMoments : null;
  const biasCorrection2 = moments === null ? 0 : 1 - Math.pow(moments.beta2, input.step);
  const sqrtVHatOverEps = new SampleBuffer();
  let gradDominated = 0;
  let gradCount = 0;
  let wdDominated = 0;
  let wdCount = 0;

  for (const [name, state] of states) {
    const variable = registered[name];
    if (variable === undefined || variable.isDisposed) continue;
    const w = variable.dataSync() as Float32Array;
    const ss = sumSquares(w);
    weightNorms[name] = Math.sqrt(ss);
    total += ss;
    if (state.decays) decayedTotal += ss;

    const mVar = momentSlot === null ? undefined : state.slots.get(momentSlot.slot);
    if (momentSlot !== null && mVar !== undefined) {
      anyMoment = true;
      const m = mVar.dataSync() as Float32Array;
      const scale = Math.abs(momentSlot.scale);
      logRatios.reserve(m.length);
      for (let i = 0; i < m.length; i++) {
        const a = scale * Math.abs(m[i]);
        const b = Math.abs(w[i]);
        if (a > 0 && b > 0) logRatios.push(Math.log10(a / b));
      }
    }

    if (moments !== null) {
      const v = state.slots.get(moments.grad.slot);
      if (v !== undefined) {
        const values = v.dataSync() as Float32Array;
        const toVHat = moments.grad.scale / biasCorrection2;
        const eps = moments.epsilon;
        sqrtVHatOverEps.reserve(values.length);
        for (let i = 0; i < values.length; i++) {
          const root = Math.sqrt(toVHat * values[i]);
          if (root < eps) gradDominated++;
          if (root > 0) sqrtVHatOverEps.push(Math.log10(root / eps));
        }
        gradCount += values.length;
      }
      const vWd = moments.wd === null || !state.decays ? undefined : state.slots.get(moments.wd.slot);
      if (vWd !== undefined) {
        const values = vWd.dataSync() as Float32Array;
        const toVHat = moments.wd!.scale / biasCorrection2;
        for (let i = 0; i < values.length; i++) if (Math.sqrt(toVHat * values[i]) < moments.epsilon) wdDominated++;
        wdCount += values.length;
      }
    }

    if (split !== null && state.decays) {
      const wdVar = state.slots.get(split.wd);
      const totalVar = state.slots.get(split.total);
      if (wdVar !== undefined && totalVar !== undefined) {
        anySplit = true;
        const mw = wdVar.dataSync() as Float32Array;
        const mt = totalVar.dataSync() as Float32Array;
        momentWd.reserve(mw.length);
        momentWdShare.reserve(mw.length);
        for (let i = 0; i < mw.length; i++) {
          const wdPart = split.wdScale * mw[i];
          const a = Math.abs(wdPart);
          const total = split.totalScale * mt[i];
          const gPart = split.mode === 'l2-split' ? total - wdPart : total;
          const b = Math.abs(gPart);
          momentWdSq += a * a;
          momentGradSq += b * b;
          if (a > 0 && b > 0) momentWd.push(a / b);
          if (a + b > 0) momentWdShare.push(a / (a + b));
        }
      }
    }

    if (tracked && state.lastGrad !== null && state.lastWeight !== null) {
      const g = state.lastGrad.dataSync() as Float32Array;
      const w0 = state.lastWeight.dataSync() as Float32Array;
      let d = 0;
      for (let i = 0; i < w.length; i++) {
        const diff = w[i] - w0[i];
        d += diff * diff;
      }
      const b = sumSquares(w0);
      updateNormRatios[name] = b > 0 ? Math.sqrt(d / b) : d > 0 ? Infinity : 0;
      deltaSq += d;
      beforeSq += b;
      if (state.decays) {
        anyWdGrad = true;
        wdGrad.reserve(g.length);
        for (let i = 0; i < g.length; i++) {
          const a = Math.abs(lambdaT * w0[i]);
          const gi = Math.abs(g[i]);
          wdSq += a * a;
          gradSq += gi * gi;
          if (a > 0 && gi > 0) wdGrad.push(a / gi);
        }
      }
    }
  }

  const ratio = (num: number, den: number): number => (den > 0 ? Math.sqrt(num / den) : num > 0 ? Infinity : 0);
  return {
    scheme: input.scheme,
    step: input.step,
    lastDecayMultiplier: lastMultiplier,
    weightNorm: Math.sqrt(total),
    weightNorms,
    decayedWeightNorm: Math.sqrt(decayedTotal),
    momentToWeightLog10: anyMoment ? fiveQuantiles(logRatios.view()) : null,
    wdToGradMedian: anyWdGrad ? (lambdaT === 0 ? 0 : median(wdGrad.view())) : null,
    wdToGradNormRatio: anyWdGrad ? ratio(wdSq, gradSq) : null,
    momentWdToGradMedian: anySplit ? median(momentWd.view()) : null,
    momentWdToGradNormRatio: anySplit ? ratio(momentWdSq, momentGradSq) : null,
    momentWdShare: anySplit && momentWdShare.view().length > 0 ? fiveQuantiles(momentWdShare.view()) : null,
    epsDominatedShare: gradCount > 0 ? gradDominated / gradCount : null,
    epsDominatedShareWd: wdCount > 0 ? wdDominated / wdCount : null,
    sqrtVHatOverEpsLog10: sqrtVHatOverEps.view().length > 0 ? fiveQuantiles(sqrtVHatOverEps.view()) : null,
    updateNormRatio: tracked ? ratio(deltaSq, beforeSq) : null,
    updateNormRatios: tracked ? updateNormRatios : null,
  };
}
