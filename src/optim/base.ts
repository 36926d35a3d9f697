/**
 * WeightDecayOptimizer: the tf.Optimizer subclass every scheme derives from. It owns what the schemes share —
 * options, the step's loop over variables (calling decay.ts, the weight-decay rule, for the L2 term before the step
 * and the decoupled shrink on both code paths), lazily created (non-trainable) slots, getWeights/setWeights,
 * serialization and diagnostics — while each family (Adam, SGD, RMSprop) supplies its slots and its step. All update
 * math of one applyGradients call runs inside one tf.tidy; weights change in place with assign. On the tensorflow
 * backend the schemes that have one run TensorFlow's fused kernel instead of the composite ops (fused.ts); the state
 * lives in the same tfjs Variables either way.
 */
import * as tf from '../tf.ts';

import { checkDecoupledCoefficient, resolveOptions, type ResolvedOptions } from './options.ts';
import { SCHEMES } from './schemes.ts';
import { assignResource, createResource, destroyResource, fusedKernelsActive, readResource } from './fused.ts';
import { decayStep, decoupledShrink, effectiveGradient, variableDecays, type DecayStep } from './decay.ts';
import { computeDiagnostics } from './diagnostics.ts';
import type {
  DecayKind,
  MomentSplit,
  OptimizerDiagnostics,
  OptimizerFamily,
  OptimizerName,
  OptimizerOptions,
  SecondMoments,
  VariableState,
} from './types.ts';

/**
 * Returns `result` after disposing the temporaries. The update math frees every full-size intermediate as soon as it
 * is dead instead of leaving it to the enclosing tf.tidy: TensorFlow's allocator can then reuse the buffer, which
 * about halves the cost of a chain of element-wise ops on a large tensor (measured on the Nature CNN's 1.6M-weight
 * dense kernel: 12 chained multiplications take 23 ms kept alive, 12 ms freed as they go).
 */
export function free<T extends tf.Tensor>(result: T, ...temporaries: tf.Tensor[]): T {
  for (const t of temporaries) t.dispose();
  return result;
}

/** tfjs's NamedTensor (not re-exported by tfjs-node). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One slot (optimizer buffer) of a variable: its name suffix and its initial value. */
export interface SlotSpec {
  name: string;
  init: number;
}

/**
 * TensorFlow's fused kernel for a scheme's update (see fused.ts): `buffers` are what it updates besides the weights,
 * in its input order — slot names, or names of internal scratch buffers (no such slot: zero-initialised, never
 * saved). `run` gets resource handles for the weights and buffers, the effective gradient and the step's scalars.
 */
export interface FusedKernel<S> {
  readonly buffers: readonly string[];
  run(weight: tf.Tensor, buffers: tf.Tensor[], g: tf.Tensor, scalars: S): void;
}

/**
 * One variable's part of a step: what a family's computeStep and beforeFusedStep work with. Built by applyGradients
 * inside the step's tf.tidy; the tensors belong to it.
 */
export interface VariableStep<S> {
  w: tf.Variable;
  /** The effective gradient: ∇ℓ, plus λ_t·w for the L2 schemes. */
  g: tf.Tensor;
  /** λ_t·w when it was added to the gradient (L2 schemes with λ_t > 0 this step), else null; freed after the step. */
  penalty: tf.Tensor | null;
  slots: Map<string, tf.Variable>;
  /** Whether λ applies to this variable (the scheme decays and the decay filter selects it). */
  decays: boolean;
  /** The scalar λ_t when the variable takes a WD signal this step (l2 and separated schemes), else null. */
  wd: tf.Scalar | null;
  /** The step's scalars from prepareStep, shared by all variables. */
  scalars: S;
}

/** Numbers that describe one step, computed before any tensor work: its weight decay (decay.ts) and these. */
export interface StepInfo extends DecayStep {
  /** k: steps taken before this one. */
  stepIndex: number;
  /** t = k + 1, the (1-based) step number used for bias correction. */
  t: number;
  /** α·η_t, the step size of the gradient update. */
  stepSize: number;
}

export abstract class WeightDecayOptimizer<S = unknown> extends tf.Optimizer {
  readonly scheme: OptimizerName;
  readonly family: OptimizerFamily;
  readonly decay: DecayKind;
  protected readonly opts: ResolvedOptions;
  /** Variable name → state, in the order the variables were first seen. */
  private readonly states = new Map<string, VariableState>();
  private lastMultiplier: number | null = null;

  protected constructor(scheme: OptimizerName, options: OptimizerOptions) {
    super();
    this.scheme = scheme;
    this.family = SCHEMES[scheme].family;
    this.decay = SCHEMES[scheme].decay;
    this.opts = resolveOptions(scheme, options);
  }

  // ------------------------------------------------------------------------------------------------------------
  // What a family provides

  /** Every slot name this family can have, in getWeights order. */
  protected abstract slotOrder(): readonly string[];
  /** The slots one variable needs. */
  protected abstract slotSpecs(decays: boolean): SlotSpec[];
  /** Scalars shared by all variables in one step (created inside the step's tidy); `fused`: for fusedKernel(). */
  protected abstract prepareStep(info: StepInfo, fused: boolean): S;
  /**
   * The step Δ for one variable: the new weights are w − Δ (or w·(1 − c)^{s} − Δ for decoupled schemes). Updates the
   * slots with assign.
   */
  protected abstract computeStep(step: VariableStep<S>): tf.Tensor;
  /** The first-moment slot for log10(|m|/|w|) and the factor that turns it into m, or null. */
  protected abstract firstMomentSlot(): { slot: string; scale: number } | null;
  /**
   * TensorFlow's fused kernel for this scheme's step Δ on a variable that decays or not (the same rule as
   * computeStep, to float32 rounding), or null when the scheme has none: then computeStep's composite ops run. Only
   * called on the tensorflow backend; the same `decays` must give the same buffers.
   */
  protected fusedKernel(_decays: boolean): FusedKernel<S> | null {
    return null;
  }
  /** Fused path: work that must see the weights before the kernel updates them in place (adam-l2's m_wd, adam-separated's buffers). */
  protected beforeFusedStep(_step: VariableStep<S>): void {}
  /** Where the WD part of the first moment lives, or null. */
  protected momentSplit(): MomentSplit {
    return null;
  }
  /** Where Adam's second moments live (ε-dominance), or null for families without them. */
  protected secondMoments(): SecondMoments {
    return null;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Options

  get learningRate(): number {
    return this.opts.learningRate;
  }

  get weightDecay(): number {
    return this.opts.weightDecay;
  }

  get scheduleMultiplier(): number {
    return this.opts.scheduleMultiplier;
  }

  /** A copy of the resolved options (defaults filled in). */
  get options(): Readonly<ResolvedOptions> {
    return { ...this.opts };
  }

  setLearningRate(learningRate: number): void {
    const next = resolveOptions(this.scheme, { ...this.getConfig(), learningRate } as unknown as OptimizerOptions);
    this.opts.learningRate = next.learningRate;
  }

  /** Sets η_t (Loshchilov & Hutter's schedule multiplier), e.g. from a learning-rate schedule. */
  setScheduleMultiplier(eta: number): void {
    if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0) {
      throw new Error(`${this.scheme}: scheduleMultiplier must be a finite number >= 0, got ${String(eta)}`);
    }
    if (this.decay === 'decoupled') checkDecoupledCoefficient(this.scheme, { ...this.opts, scheduleMultiplier: eta });
    this.opts.scheduleMultiplier = eta;
  }

  /** The numbers of step k (0-based); pure function of k and the options (the decay's from decay.ts). */
  stepInfo(stepIndex: number): StepInfo {
    const o = this.opts;
    const { multiplier, l2Lambda, decayFactor } = decayStep(this.decay, o, stepIndex);
    return { stepIndex, t: stepIndex + 1, multiplier, stepSize: o.learningRate * o.scheduleMultiplier, l2Lambda, decayFactor };
  }

  // ------------------------------------------------------------------------------------------------------------
  // The update

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries = Array.isArray(variableGradients)
      ? variableGradients.map((v) => ({ name: v.name, grad: v.tensor }))
      : Object.keys(variableGradients).map((name) => ({ name, grad: variableGradients[name] }));
    const registered = tf.engine().registeredVariables;
    const checked: { name: string; variable: tf.Variable; grad: tf.Tensor }[] = [];
    for (const { name, grad } of entries) {
      if (grad == null) continue;
      const variable = registered[name];
      if (variable === undefined) throw new Error(`${this.scheme}: no registered variable named '${name}'`);
      if (!tf.util.arraysEqual(variable.shape, grad.shape)) {
        throw new Error(`${this.scheme}: gradient of '${name}' has shape [${grad.shape}], variable [${variable.shape}]`);
      }
      if (grad.dtype !== 'float32' || variable.dtype !== 'float32') {
        throw new Error(`${this.scheme}: '${name}' and its gradient must be float32`);
      }
      checked.push({ name, variable, grad });
    }
    // Only once every gradient passed the checks: create missing slots (lazily, on a variable's first step).
    const work = checked.map(({ name, variable, grad }) => ({ variable, grad, state: this.ensureState(name, variable) }));
    const info = this.stepInfo(this.iterations);
    const track = this.opts.trackLastStep;
    const fused = fusedKernelsActive();
    const kernels = fused ? [this.fusedKernel(false), this.fusedKernel(true)] : [null, null];
    tf.tidy(() => {
      const scalars = this.prepareStep(info, fused);
      const wd = info.l2Lambda > 0 ? tf.scalar(info.l2Lambda) : null;
      const factor = info.decayFactor !== 1 ? tf.scalar(info.decayFactor) : null;
      for (const { variable, grad, state } of work) {
        const wdHere = state.decays ? wd : null;
        const factorHere = state.decays ? factor : null;
        const { g, penalty } = effectiveGradient(this.decay, grad, variable, wdHere);
        const here: VariableStep<S> = { w: variable, g, penalty, slots: state.slots, decays: state.decays, wd: wdHere, scalars };
        if (track) this.recordLastStep(state, variable, grad);
        // Rank-0/1 variables (biases: ≤ 512 floats in the DQN, dispatch-bound either way) keep the composite ops, so
        // their update stays as before: with decayFilter 'no-bias' they follow the plain scheme's ops exactly.
        const kernel = kernels[state.decays ? 1 : 0];
        if (kernel !== null && variable.rank >= 2) {
          this.fusedVariableStep(kernel, here, grad, state, factorHere);
          penalty?.dispose();
          if (g !== grad) g.dispose();
        } else {
          // Temporaries are freed as soon as they are dead, so TensorFlow's allocator can reuse their buffers.
          const step = this.computeStep(here);
          penalty?.dispose();
          if (g !== grad) g.dispose();
          const start = decoupledShrink(variable, factorHere);
          const next = free(tf.sub(start, step), step);
          if (start !== variable) start.dispose();
          variable.assign(next);
        }
      }
    });
    this.lastMultiplier = info.multiplier;
    this.incrementIterations();
  }

  /**
   * One variable through TensorFlow's fused kernel, in place (fused.ts explains the buffer hand-over). The weights
   * and slots are the tfjs Variables' buffers throughout; `grad` stands in for them while the kernel runs. `factor`:
   * the decoupled decay factor when this variable decays this step, else null.
   */
  private fusedVariableStep(kernel: FusedKernel<S>, step: VariableStep<S>, grad: tf.Tensor, state: VariableState, factor: tf.Scalar | null): void {
    const variable = step.w;
    if (state.resources === null) {
      const scratch = (name: string) => {
        const h = tf.keep(createResource(variable.shape));
        // A scratch buffer starts at zero and is never read back (e.g. RMSprop's mom when μ = 0).
        if (!state.slots.has(name)) {
          const zeros = tf.zerosLike(variable);
          assignResource(h, zeros);
          zeros.dispose();
        }
        return h;
      };
      state.resources = { weight: tf.keep(createResource(variable.shape)), buffers: kernel.buffers.map(scratch) };
    }
    const { weight, buffers } = state.resources;
    this.beforeFusedStep(step);
    // Point the resources at the current buffers (shared, not copied). Decoupled decay scales the weights first,
    // into a new buffer that the resource then holds alone.
    const start = decoupledShrink(variable, factor);
    assignResource(weight, start);
    if (start !== variable) start.dispose();
    const slotVars = kernel.buffers.map((name) => state.slots.get(name));
    slotVars.forEach((v, i) => v !== undefined && assignResource(buffers[i], v));
    // Let go of the tfjs references to those buffers, so the kernel updates them in place instead of copying them
    // first (anything else still holding one, e.g. a target network, keeps its values: TensorFlow copies then).
    variable.assign(grad);
    for (const v of slotVars) v?.assign(grad);
    try {
      kernel.run(weight, buffers, step.g, step.scalars);
    } finally {
      variable.assign(readResource(weight));
      slotVars.forEach((v, i) => v?.assign(readResource(buffers[i])));
    }
  }

  /** trackLastStep: keeps this step's gradient and the weights before it (zero-copy references). */
  private recordLastStep(state: VariableState, variable: tf.Variable, grad: tf.Tensor): void {
    state.lastGrad?.dispose();
    state.lastWeight?.dispose();
    state.lastGrad = tf.keep(grad.clone());
    state.lastWeight = tf.keep(variable.clone());
  }

  private ensureState(name: string, variable: tf.Variable): VariableState {
    let state = this.states.get(name);
    if (state === undefined) {
      state = { decays: variableDecays(this.decay, this.opts.decayFilter, variable.shape), slots: new Map(), lastGrad: null, lastWeight: null, resources: null };
      this.states.set(name, state);
    }
    for (const spec of this.slotSpecs(state.decays)) {
      const existing = state.slots.get(spec.name);
      if (existing !== undefined) {
        if (!tf.util.arraysEqual(existing.shape, variable.shape)) {
          throw new Error(
            `${this.scheme}: slot '${name}/${spec.name}' has shape [${existing.shape}], variable [${variable.shape}]`,
          );
        }
        continue;
      }
      const trainable = false;
      state.slots.set(
        spec.name,
        tf.tidy(() => (spec.init === 0 ? tf.zerosLike(variable) : tf.fill(variable.shape, spec.init)).variable(trainable)),
      );
    }
    return state;
  }

  // ------------------------------------------------------------------------------------------------------------
  // State: getWeights / setWeights (tfjs convention: first the step counter 'iter', then the slots)

  /**
   * The optimizer state: `iter` (int32 step count), then `${variableName}/${slot}` for every slot, grouped by slot
   * kind in slotOrder(). The tensors are snapshots (zero-copy clones) owned by the caller: dispose them when done.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [await this.saveIterations()];
    for (const slot of this.slotOrder()) {
      for (const [name, state] of this.states) {
        const v = state.slots.get(slot);
        if (v !== undefined) out.push({ name: `${name}/${slot}`, tensor: v.clone() });
      }
    }
    return out;
  }

  /** Restores a getWeights() state (the tensors are not taken over: the caller may dispose them). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues) || weightValues.length === 0 || weightValues[0].name !== 'iter') {
      throw new Error(`${this.scheme}: setWeights expects getWeights() output, starting with 'iter'`);
    }
    const known = new Set(this.slotOrder());
    const parsed: { variable: string; slot: string; tensor: tf.Tensor }[] = [];
    for (const { name, tensor } of weightValues.slice(1)) {
      const cut = name.lastIndexOf('/');
      const slot = cut < 0 ? '' : name.slice(cut + 1);
      if (cut <= 0 || !known.has(slot)) {
        throw new Error(`${this.scheme}: unexpected optimizer weight '${name}' (slots: ${[...known].join(', ')})`);
      }
      parsed.push({ variable: name.slice(0, cut), slot, tensor });
    }
    await this.extractIterations(weightValues);
    const iterations = this.iterations;
    if (!Number.isSafeInteger(iterations) || iterations < 0) {
      throw new Error(`${this.scheme}: invalid step counter ${iterations} in 'iter'`);
    }
    this.disposeStates();
    for (const { variable, slot, tensor } of parsed) {
      let state = this.states.get(variable);
      if (state === undefined) {
        state = { decays: variableDecays(this.decay, this.opts.decayFilter, tensor.shape), slots: new Map(), lastGrad: null, lastWeight: null, resources: null };
        this.states.set(variable, state);
      }
      state.slots.get(slot)?.dispose();
      state.slots.set(slot, tf.tidy(() => tf.variable(tf.cast(tensor, 'float32'), false)));
    }
    this.lastMultiplier = null;
  }

  private disposeStates(): void {
    for (const state of this.states.values()) {
      for (const v of state.slots.values()) v.dispose();
      state.lastGrad?.dispose();
      state.lastWeight?.dispose();
      if (state.resources !== null) {
        for (const h of [state.resources.weight, ...state.resources.buffers]) {
          destroyResource(h);
          h.dispose();
        }
      }
    }
    this.states.clear();
  }

  override dispose(): void {
    this.disposeStates();
    super.dispose();
  }

  /** Names of the variables this optimizer holds state for, in first-seen order. */
  get variableNames(): string[] {
    return [...this.states.keys()];
  }

  // ------------------------------------------------------------------------------------------------------------
  // Serialization

  override getConfig(): tf.serialization.ConfigDict {
    const o = this.opts;
    const all: tf.serialization.ConfigDict = {
      learningRate: o.learningRate,
      weightDecay: o.weightDecay,
      weightDecaySchedule: o.weightDecaySchedule,
      decayFilter: o.decayFilter,
      scheduleMultiplier: o.scheduleMultiplier,
      trackLastStep: o.trackLastStep,
    };
    if (this.decay === 'decoupled') all.decoupledConvention = o.decoupledConvention;
    if (this.family === 'adam') Object.assign(all, { beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon });
    if (this.family === 'sgd') Object.assign(all, { momentum: o.momentum });
    if (this.family === 'rmsprop') {
      Object.assign(all, {
        rho: o.rho,
        momentum: o.momentum,
        epsilon: o.epsilon,
        centered: o.centered,
        initialMeanSquare: o.initialMeanSquare,
      });
    }
    return all;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Diagnostics

  /**
   * Buffer diagnostics as plain numbers (diagnostics.ts; reads the buffers back, O(number of weights)). Variables are
   * those this optimizer has updated and that are still registered.
   */
  diagnostics(): OptimizerDiagnostics {
    return computeDiagnostics({
      scheme: this.scheme,
      step: this.iterations,
      lastMultiplier: this.lastMultiplier,
      weightDecay: this.opts.weightDecay,
      trackLastStep: this.opts.trackLastStep,
      momentSlot: this.firstMomentSlot(),
      split: this.momentSplit(),
      secondMoments: this.secondMoments(),
      states: this.states,
    });
  }
}
