/**
 * TensorFlow's own fused optimizer kernels (ResourceApplyAdam, ResourceApplyMomentum, ResourceApplyGradientDescent,
 * ResourceApplyRMSProp, ResourceApplyCenteredRMSProp, ResourceApplyAdagradV2), run through tfjs-node's op executor
 * on the tensorflow backend.
 *
 * Why: tfjs-node runs every element-wise op as its own TensorFlow kernel with a new output buffer, so Adam on the
 * DQN's 4M-weight dense kernel is ~12 full passes over 16 MB tensors. The fused kernels read g, w and the slots once
 * and update them in place (Adam: 4 reads + 3 writes instead of ~30 tensor passes).
 *
 * How: the kernels need TensorFlow resource variables, which tfjs tensors are not. Each optimized variable (and
 * each slot the kernel updates) gets an anonymous resource variable. Per step the resource is pointed at the
 * tfjs tensor's buffer (AssignVariableOp shares the buffer, no copy), the tfjs references to that buffer are let go
 * (the tfjs Variable briefly holds the gradient instead), the kernel updates the buffer in place, and ReadVariableOp
 * hands the buffer back to the tfjs Variable (again no copy). TensorFlow's resource variables are copy-on-write: if
 * anything else still references a buffer (a target network that shares the weights, a getWeights() snapshot,
 * trackLastStep's copy of the weights), the kernel first copies it, so nothing outside the optimizer ever sees a
 * value change under it.
 *
 * The tfjs Variables (weights and slots) hold the current values between steps, exactly as on the composite path,
 * so getWeights/setWeights, checkpoints and diagnostics do not know which path ran.
 */
import * as tf from '../tf.ts';
import { attrTypes, boolAttr, floatTypeAttr, runOp, runOpNoOutput, type OpAttr } from '../tf_native.ts';

/** TensorFlow's name for "a fresh resource, private to this handle" (context.anonymous_name() in TF's Python). */
const ANONYMOUS_NAME = 'cd2c89b7-88b7-44c8-ad83-06c2a9158347';

let enabled = true;
let available: boolean | null = null;

/**
 * Turns the fused kernels on or off for every optimizer of this module (default on); returns the previous setting.
 * Off, every scheme runs its composite tfjs ops (also what runs on backends other than tensorflow). Meant for
 * benchmarks and for checking the two paths against each other: an optimizer can switch between steps, its state
 * lives in ordinary tfjs Variables either way.
 */
export function setFusedKernels(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** Whether applyGradients uses TensorFlow's fused kernels now (enabled, tensorflow backend, ops working). */
export function fusedKernelsActive(): boolean {
  if (!enabled || tf.getBackend() !== 'tensorflow') return false;
  available ??= probe();
  return available;
}

/** One tiny round trip through every op this module uses, once per process; false if any is missing. */
function probe(): boolean {
  try {
    return tf.tidy(() => {
      const h = createResource([2]);
      assignResource(h, tf.tensor1d([1, 2]));
      applyKernel('ResourceApplyGradientDescent', [h, tf.scalar(0.5), tf.tensor1d([2, 4])]);
      const value = Array.from(readResource(h).dataSync());
      destroyResource(h);
      return attrTypes().TF_FLOAT !== undefined && value[0] === 0 && value[1] === 0;
    });
  } catch {
    return false;
  }
}

/** A new float32 resource variable (uninitialized) of `shape`; a tfjs tensor of dtype 'string' holds its handle. */
export function createResource(shape: readonly number[]): tf.Tensor {
  const b = attrTypes();
  return runOp('VarHandleOp', [
    floatTypeAttr('dtype'),
    { name: 'shape', type: b.TF_ATTR_SHAPE, value: [...shape] },
    { name: 'container', type: b.TF_ATTR_STRING, value: '' },
    { name: 'shared_name', type: b.TF_ATTR_STRING, value: ANONYMOUS_NAME },
  ], []);
}

/** Points the resource at `value`'s buffer (TensorFlow shares it; a later in-place update copies it if still shared). */
export function assignResource(handle: tf.Tensor, value: tf.Tensor): void {
  runOpNoOutput('AssignVariableOp', [floatTypeAttr('dtype')], [handle, value]);
}

/** The resource's value as a tfjs tensor that shares its buffer (a snapshot: later updates copy first). */
export function readResource(handle: tf.Tensor): tf.Tensor {
  return runOp('ReadVariableOp', [floatTypeAttr('dtype')], [handle]);
}

/** Frees the resource (the handle tensor itself is disposed by the caller). */
export function destroyResource(handle: tf.Tensor): void {
  runOpNoOutput('DestroyResourceOp', [boolAttr('ignore_lookup_error', true)], [handle]);
}

/** Runs a ResourceApply* kernel (no outputs): T = float32, use_locking false, plus `extra` attributes. */
export function applyKernel(op: string, inputs: tf.Tensor[], extra: OpAttr[] = []): void {
  runOpNoOutput(op, [floatTypeAttr(), boolAttr('use_locking', false), ...extra], inputs);
}

/** update_slots = false, for ResourceApplyAdagradV2: w ← w − lr·grad/(√accum + ε), accum left as it is. */
export function noSlotUpdate(): OpAttr {
  return boolAttr('update_slots', false);
}

/** use_nesterov = false, for ResourceApplyAdam and ResourceApplyMomentum. */
export function noNesterov(): OpAttr {
  return boolAttr('use_nesterov', false);
}
