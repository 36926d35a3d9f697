// Ending a command line with an exit code without losing output. process.exit() ends the process at once, and on
// a pipe Node writes stdout asynchronously: `sweep --dry-run | sbatch` lost everything past the pipe's first
// 64 KiB. These wait until stdout and stderr have taken everything written so far.

/** Calls `done` once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream, done: () => void): void {
  // Writes are queued in order, so the callback of an empty write runs after every earlier write is flushed.
  if (stream.destroyed || !stream.writable) done();
  else stream.write('', () => done());
}

/** process.exit(code), after stdout and stderr are flushed. */
export function exitWhenFlushed(code: number): void {
  flushed(process.stdout, () => flushed(process.stderr, () => process.exit(code)));
}

/** The end of every CLI's entry point: exit with main's code, or print a failure in one line (the stack with WD_HARNESS_DEBUG=1). */
export function runMain(main: () => Promise<number>): void {
  main().then(exitWhenFlushed, (error: unknown) => {
    const debug = process.env.WD_HARNESS_DEBUG === '1';
    console.error(error instanceof Error ? `error: ${debug ? error.stack : error.message}` : error);
    exitWhenFlushed(1);
  });
}
