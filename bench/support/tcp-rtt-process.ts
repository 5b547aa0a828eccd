/**
 * TCP round-trip probe, run inside a network namespace by tcp-rtt.ts (`ip netns exec NS node
 * tcp-rtt-process.js …`): one connection with Nagle off, one small message at a time, echoed.
 *
 *   node tcp-rtt-process.js server HOST PORT          prints "ready", echoes one connection, exits
 *   node tcp-rtt-process.js client HOST PORT N WARMUP  prints {"us":[…]}: N round trips, in µs
 */
import { connect, createServer } from 'node:net';

const [role, host, portArg, countArg, warmupArg] = process.argv.slice(2);
const port = Number(portArg);
const MESSAGE = Buffer.alloc(64, 0x61);

if (role === 'server') {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
    s.on('close', () => server.close());
  });
  server.listen(port, host, () => process.stdout.write('ready\n'));
} else if (role === 'client') {
  const count = Number(countArg);
  const warmup = Number(warmupArg);
  const us: number[] = [];
  const s = connect({ host, port, noDelay: true });
  s.setTimeout(10_000, () => fail('timed out'));
  s.on('error', (e) => fail(e.message));
  let i = 0;
  let got = 0;
  let t0 = 0n;
  const send = () => {
    got = 0;
    t0 = process.hrtime.bigint();
    s.write(MESSAGE);
  };
  s.on('connect', send);
  s.on('data', (d) => {
    got += d.length;
    if (got < MESSAGE.length) return;
    const dt = Number(process.hrtime.bigint() - t0) / 1000;
    if (i++ >= warmup) us.push(dt);
    if (us.length < count) send();
    else {
      process.stdout.write(JSON.stringify({ us }) + '\n');
      s.end();
    }
  });
} else {
  fail(`unknown role ${role}`);
}

function fail(msg: string): never {
  process.stderr.write(`tcp-rtt: ${msg}\n`);
  process.exit(1);
}
