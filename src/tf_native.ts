// TensorFlow ops run straight through tfjs-node's op executor, for what tfjs does not offer or offers slower:
// ReluGrad, the 2-D MatMul (agents/network.ts) and the resource-variable ops of the fused optimizer kernels
// (src/optim/fused.ts). The one place that knows tfjs-node's backend API beyond tfjs's public one; callers check
// `tf.getBackend() === 'tensorflow'` first. Outputs are ordinary tfjs tensors, tracked by tf.tidy.
import * as tf from './tf.ts';

export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

interface NodeBackend {
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[];
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_SHAPE: number;
    TF_ATTR_STRING: number;
    TF_ATTR_BOOL: number;
    TF_FLOAT: number;
  };
}

function backend(): NodeBackend {
  return tf.backend() as unknown as NodeBackend;
}

/** The tensorflow backend's attribute type codes (TF_ATTR_SHAPE, TF_ATTR_STRING, ...). */
export function attrTypes(): NodeBackend['binding'] {
  return backend().binding;
}

/** Runs a TensorFlow op with one output. */
export function runOp(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): tf.Tensor {
  return backend().executeSingleOutput(name, attrs, inputs);
}

/** Runs a TensorFlow op for its effect only (no outputs), e.g. a resource-variable update. */
export function runOpNoOutput(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): void {
  backend().executeMultipleOutputs(name, attrs, inputs, 0);
}

/** A type attribute set to float32 (`T` unless named otherwise). */
export function floatTypeAttr(name = 'T'): OpAttr {
  const b = backend().binding;
  return { name, type: b.TF_ATTR_TYPE, value: b.TF_FLOAT };
}

export function boolAttr(name: string, value: boolean): OpAttr {
  return { name, type: backend().binding.TF_ATTR_BOOL, value };
}
