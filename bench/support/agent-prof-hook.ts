/**
 * Preloaded into every Node process of a benchmark cluster when BENCH_AGENT_PROF is set
 * (NODE_OPTIONS=--import, see agent-profiler.ts); only `cairn agent` processes act on it. There,
 * SIGUSR2 starts a V8 CPU profile and the next SIGUSR2 writes it to
 * $CAIRN_BENCH_PROF_DIR/agent-<pid>-<n>.cpuprofile (written under a temporary name, then renamed,
 * so a complete file is the signal that it is done). The agent itself has no SIGUSR2 handler.
 */
import { Session } from 'node:inspector';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CAIRN_BENCH_PROF_DIR;
if (dir && process.argv[2] === 'agent') {
  const session = new Session();
  session.connect();
  let running = false;
  let written = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      session.post('Profiler.enable');
      session.post('Profiler.setSamplingInterval', { interval: 1000 });
      session.post('Profiler.start');
      running = true;
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) return process.stderr.write(`bench profiler: ${err.message}\n`);
      const file = join(dir, `agent-${process.pid}-${++written}.cpuprofile`);
      writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
      renameSync(`${file}.tmp`, file);
    });
  });
}
