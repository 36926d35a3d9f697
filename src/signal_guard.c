// Keeps asynchronous signals (Ctrl-C, SIGTERM from a sweep driver or Slurm, SIGCHLD from an emulator process that
// exits, SIGWINCH from a resized terminal, ...) off the threads that run TensorFlow's kernels.
//
// Why: oneDNN's generated f32 GEMM kernels (what TensorFlow's MatMul runs on x86 CPUs with AVX2 or AVX-512) point the
// stack register at a heap buffer while they run. A signal handled on such a thread at that moment has its frame
// written into the heap: the process later aborts ("corrupted size vs. prev_size") or segfaults, before the harness
// sees the signal, and the run loses everything since its last checkpoint. Upstream bug: uxlfoundation/oneDNN#4845,
// fixed in oneDNN 3.11.2 (PR #4855); TensorFlow 2.21 and tfjs-node's 2.9.1 ship older oneDNN builds.
//
// How: guard() starts one thread that leaves those signals unblocked and does nothing but wait for them, then blocks
// them in the calling thread. src/tf.ts calls it on Node's main thread before TensorFlow loads, so every thread
// TensorFlow creates afterwards inherits the block. The kernel delivers a process-directed signal only to a thread
// that does not block it: this one (or one of Node's own helper threads), where libuv's handler just writes to a
// pipe; the main thread's event loop then runs the JavaScript handlers as before. Nothing else changes: child
// processes start with an empty signal mask (libuv resets it before exec), and no computation is touched.
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

// The signals Node or libuv may install handlers for, or the harness listens to (process.on). Synchronous ones
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL) are caused by the thread itself and cannot be redirected; SIGPROF stays where it
// is because V8's sampling profiler sends it to the main thread on purpose.
static const int GUARDED[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCHLD, SIGWINCH};
#define N_GUARDED (sizeof GUARDED / sizeof GUARDED[0])

static pthread_once_t started = PTHREAD_ONCE_INIT;
static int start_error = 0;

static void guarded_set(sigset_t *set) {
  sigemptyset(set);
  for (size_t i = 0; i < N_GUARDED; i++) sigaddset(set, GUARDED[i]);
}

static void *receiver(void *unused) {
  (void)unused;
  sigset_t set;
  guarded_set(&set);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  for (;;) pause(); // each delivered signal runs its handler here, then pause() waits for the next
  return NULL;
}

static void start_receiver(void) {
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  start_error = pthread_create(&thread, &attr, receiver, NULL);
  pthread_attr_destroy(&attr);
}

// guard(): starts the receiver thread (once per process) and blocks the guarded signals in the calling thread.
// Returns the guarded signal numbers; throws if the thread or the mask could not be set.
static napi_value guard(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_once(&started, start_receiver);
  if (start_error != 0) {
    napi_throw_error(env, NULL, "signal_guard: could not start the signal receiver thread");
    return NULL;
  }
  sigset_t set;
  guarded_set(&set);
  if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
    napi_throw_error(env, NULL, "signal_guard: could not block signals in this thread");
    return NULL;
  }
  napi_value out;
  napi_create_array_with_length(env, N_GUARDED, &out);
  for (size_t i = 0; i < N_GUARDED; i++) {
    napi_value n;
    napi_create_int32(env, GUARDED[i], &n);
    napi_set_element(env, out, (uint32_t)i, n);
  }
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "guard", NAPI_AUTO_LENGTH, guard, NULL, &fn);
  napi_set_named_property(env, exports, "guard", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
