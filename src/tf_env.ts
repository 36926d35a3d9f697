// TensorFlow reads its logging level when the native library loads: keep its start-up banner (CPU feature notes)
// out of the harness's output unless the user asked for it. Imported by src/tf.ts before tfjs-node.
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
