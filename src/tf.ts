// The one place the project loads TensorFlow.js: every module imports `* as tf from '../src/tf.ts'`, so the
// environment set in tf_env.ts is in place before the native library loads.
import './tf_env.ts';

export * from '@tensorflow/tfjs-node';
