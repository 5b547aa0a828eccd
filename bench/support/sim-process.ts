/**
 * Simulated nodes for the control benchmark, in their own process (as `cairn sim add-nodes N`
 * would run them): a Simulator over HTTPS with the server's admin kubeconfig.
 *
 *   node dist/bench/support/sim-process.js KUBECONFIG N
 *
 * Prints `sim ready N` on stdout once N simulated nodes are registered. Unlike the CLI it does not
 * give up when one registration fails: Simulator.registerNode can lose a race between its own
 * first lease write and the first renewal tick ("leases ... already exists"; reported, src/sim is
 * not ours to change). The node is tracked by then and its next renewal succeeds, so the missing
 * registrations are simply retried through adoptExisting().
 */
import { Client, HttpsTransport } from '../../src/client/index.js';
import { Simulator } from '../../src/sim/simulator.js';

const [kubeconfig, countArg] = process.argv.slice(2);
const count = Number(countArg);
const sim = new Simulator(new Client(HttpsTransport.fromKubeconfig(kubeconfig)), {
  logger: (e) => {
    if (e.level === 'warn' || e.level === 'error') process.stderr.write(JSON.stringify(e) + '\n');
  },
});
await sim.start();
try {
  await sim.addNodes(count);
} catch (e) {
  process.stderr.write(`sim: registration failed (${(e as Error).message}); carrying on\n`);
}
for (let i = 0; i < 5 && sim.nodeNames().length < count; i++) await sim.adoptExisting().catch(() => []);
process.stdout.write(`sim ready ${sim.nodeNames().length}\n`);
const stop = () => void sim.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
