/**
 * Stands in for a node agent in the re-adoption test: creates and starts containers with a
 * RuncRuntime, prints one JSON line `{"started":[ids]}` and then idles until it is killed.
 * Usage: node runtime-agent-child.js '<json: {dataDir, containers:[{id,bundleDir,logPath,spec}]}>'
 */
import { RuncRuntime, type CreateContainerOptions } from '../../src/agent/runtime/container-runtime.js';

const input = JSON.parse(process.argv[2] ?? '{}') as { dataDir: string; containers: CreateContainerOptions[] };
const rt = new RuncRuntime({ dataDir: input.dataDir });
const started: string[] = [];
for (const c of input.containers) {
  await rt.createContainer(c);
  await rt.start(c.id);
  started.push(c.id);
}
process.stdout.write(`${JSON.stringify({ started, pid: process.pid })}\n`);
setInterval(() => {}, 60_000);
