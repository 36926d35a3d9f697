// Drops TensorFlow's start-up banner from standard error while the native library loads, and passes every other
// line through unchanged.
//
// Why: TensorFlow 2.21 prints "oneDNN custom operations are on …" at load time through absl logging (with absl's
// "All log messages before absl::InitializeLog() is called …" in front), which TF_CPP_MIN_LOG_LEVEL does not reach:
// about 6 rows of an 80×24 terminal, above the lines that say what a run will cost. Only TF_ENABLE_ONEDNN_OPTS=0
// would silence it, and that changes the kernels. The text is written by C++ to file descriptor 2 during dlopen, so
// no JavaScript stream sees it: the filter has to sit on the descriptor itself.
//
// How: begin(patterns) points descriptor 2 at a pipe whose reader thread forwards each line to the real standard
// error unless it contains one of the patterns; end() points descriptor 2 back, waits for the reader to drain the
// pipe, and returns how many lines it dropped. Only the few hundred milliseconds of loading the binding are
// filtered; everything written then that is not a banner line (an error from a failed load, say) still appears, in
// order. The reader thread inherits the signal guard's mask (it is started after the guard), so it never takes a
// signal. One loss is possible: if the process dies inside the load (a broken library aborting in its
// initialisers), what the reader had not yet forwarded dies with it; --tf-log loads without the filter.
#define _GNU_SOURCE // pthread_timedjoin_np
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATTERNS 8
#define MAX_LINE 65536

static char *patterns[MAX_PATTERNS];
static size_t n_patterns = 0;
static int saved_fd = -1; // the real standard error while the filter is on (-1: off)
static pthread_t reader_thread;
static size_t dropped = 0;

// What one reader thread reads and where it writes: its own copy, since a reader left running by end() outlives
// the filter's state.
struct pipe_ends {
  int in;
  int out;
};
static struct pipe_ends ends;

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Node makes a pipe on standard error non-blocking (a flag every copy of the descriptor shares): wait for room.
      struct pollfd ready = {.fd = fd, .events = POLLOUT};
      poll(&ready, 1, -1);
      continue;
    }
    if (w <= 0) return; // standard error is gone: nothing left to tell
    p += w;
    n -= (size_t)w;
  }
}

static int matches(const char *line, size_t n) {
  for (size_t i = 0; i < n_patterns; i++) {
    size_t k = strlen(patterns[i]);
    for (size_t j = 0; j + k <= n; j++) {
      if (memcmp(line + j, patterns[i], k) == 0) return 1;
    }
  }
  return 0;
}

static void *reader(void *arg) {
  const struct pipe_ends io = *(const struct pipe_ends *)arg;
  char line[MAX_LINE]; // its own: a reader end() left running and the next filter's reader must not share one
  size_t len = 0;
  char buf[4096];
  for (;;) {
    ssize_t r = read(io.in, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++) {
      line[len++] = buf[i];
      if (buf[i] == '\n' || len == MAX_LINE) { // an over-long line is passed on in pieces, unfiltered
        if (buf[i] == '\n' && matches(line, len)) dropped++;
        else write_all(io.out, line, len);
        len = 0;
      }
    }
  }
  if (len > 0) {
    if (matches(line, len)) dropped++;
    else write_all(io.out, line, len);
  }
  close(io.in);
  close(io.out);
  return NULL;
}

static napi_value boolean(napi_env env, int value) {
  napi_value out;
  napi_get_boolean(env, value, &out);
  return out;
}

// begin(patterns: string[]): true when standard error is now filtered, false when it could not be (it then stays
// as it was).
static napi_value begin(napi_env env, napi_callback_info info) {
  if (saved_fd >= 0) return boolean(env, 0);
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t count = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &count) != napi_ok) return boolean(env, 0);
  for (size_t i = 0; i < n_patterns; i++) free(patterns[i]);
  n_patterns = 0;
  for (uint32_t i = 0; i < count && n_patterns < MAX_PATTERNS; i++) {
    napi_value item;
    size_t n;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok) continue;
    if (napi_get_value_string_utf8(env, item, NULL, 0, &n) != napi_ok || n == 0) continue;
    char *p = malloc(n + 1);
    if (!p) continue;
    napi_get_value_string_utf8(env, item, p, n + 1, &n);
    patterns[n_patterns++] = p;
  }
  int fds[2];
  if (pipe(fds) != 0) return boolean(env, 0);
  int saved = dup(2);
  int out = saved < 0 ? -1 : dup(saved); // the reader's own copy, closed by the reader
  if (out < 0) {
    close(fds[0]);
    close(fds[1]);
    if (saved >= 0) close(saved);
    return boolean(env, 0);
  }
  ends.in = fds[0];
  ends.out = out;
  dropped = 0;
  if (pthread_create(&reader_thread, NULL, reader, &ends) != 0) {
    close(fds[0]);
    close(fds[1]);
    close(saved);
    close(out);
    return boolean(env, 0);
  }
  saved_fd = saved;
  dup2(fds[1], 2);
  close(fds[1]); // descriptor 2 is now the pipe's only write end: pointing it back gives the reader its end of file
  return boolean(env, 1);
}

// end(): the number of lines dropped (-1 when the filter was not on). Standard error is the real one again.
static napi_value end(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  if (saved_fd < 0) {
    napi_create_int32(env, -1, &out);
    return out;
  }
  dup2(saved_fd, 2);
  // The reader ends once the pipe is drained. A copy of the write end kept by someone else (a child started during
  // the load) would keep it open: then it is left running, still forwarding, rather than waited for.
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 2;
  if (pthread_timedjoin_np(reader_thread, NULL, &deadline) != 0) pthread_detach(reader_thread);
  close(saved_fd);
  saved_fd = -1;
  napi_create_int32(env, (int32_t)dropped, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "begin", NAPI_AUTO_LENGTH, begin, NULL, &fn);
  napi_set_named_property(env, exports, "begin", fn);
  napi_create_function(env, "end", NAPI_AUTO_LENGTH, end, NULL, &fn);
  napi_set_named_property(env, exports, "end", fn);
  return exports;
}
