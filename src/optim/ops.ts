// Tensor helpers the optimizer families share: the EMA updates of a slot, Adam's direction, a slot by name. Each
// frees its temporaries as it goes (base.ts, free()).
import * as tf from '../tf.ts';
import { free } from './base.ts';

/** slot ← slot + (x − slot)·oneMinus  (x = null means x = 0: slot ← slot·keep). Returns the new value. */
export function lerpInto(slotVar: tf.Variable, x: tf.Tensor | null, oneMinus: tf.Scalar, keep: tf.Scalar): tf.Tensor {
  let next: tf.Tensor;
  if (x === null) {
    next = tf.mul(slotVar, keep);
  } else {
    const diff = tf.sub(x, slotVar);
    const scaled = free(tf.mul(diff, oneMinus), diff);
    next = free(tf.add(slotVar, scaled), scaled);
  }
  slotVar.assign(next);
  return next;
}

/** slot ← slot·keep + x²·oneMinus  (x = null means x = 0). Returns the new value. */
export function emaSquareInto(slotVar: tf.Variable, x: tf.Tensor | null, oneMinus: tf.Scalar, keep: tf.Scalar): tf.Tensor {
  const decayed = tf.mul(slotVar, keep);
  let next = decayed;
  if (x !== null) {
    const sq = tf.square(x);
    const scaled = free(tf.mul(sq, oneMinus), sq);
    next = free(tf.add(decayed, scaled), decayed, scaled);
  }
  slotVar.assign(next);
  return next;
}

/** m / (√v + ε̂) */
export function adamDirection(m: tf.Tensor, v: tf.Tensor, epsHat: tf.Scalar): tf.Tensor {
  const root = tf.sqrt(v);
  const denominator = free(tf.add(root, epsHat), root);
  return free(tf.div(m, denominator), denominator);
}

export function slot(slots: Map<string, tf.Variable>, name: string): tf.Variable {
  const v = slots.get(name);
  if (v === undefined) throw new Error(`internal error: missing slot '${name}'`);
  return v;
}
