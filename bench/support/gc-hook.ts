/**
 * Preloaded into the benchmarked server process only (`node --expose-gc --import …/gc-hook.js
 * bin/cairn.js server …`), never into Cairn itself: on SIGUSR2 it runs a full garbage collection
 * and prints the process's memory usage on stderr as one `bench-gc {json}` line, so the bench can
 * read the server's RSS "at rest after a GC settle" without any hook in the server's code.
 */
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Two passes: the first may only promote what the second can then free.
  gc?.();
  gc?.();
  process.stderr.write(`bench-gc ${JSON.stringify({ gc: !!gc, ...process.memoryUsage() })}\n`);
});
