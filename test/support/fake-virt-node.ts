/**
 * A stand-in for a node's VirtHandler (VirtNodeControl) with real launcher-like sockets: the
 * "serial console" is a unix-socket server that greets with `console ready\r\n` and echoes
 * what it reads back upper-cased (so a test tells its own bytes from the guest's), the "VNC
 * server" sends the RFB 3.8 greeting and echoes too. The sockets sit in a directory with a path
 * longer than a sockaddr_un holds, as a launcher's do under an agent's data dir. One VMI
 * (`namespace/name`) runs; pause and unpause are recorded and follow KubeVirt's state rules.
 */
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtNodeError, type LauncherSockets, type VirtNodeControl } from '../../src/virt/handler/virt-node-control.js';

export const RFB_GREETING = 'RFB 003.008\n';
export const CONSOLE_GREETING = 'console ready\r\n';

export class FakeVirtNode implements VirtNodeControl {
  readonly calls: string[] = [];
  paused = false;
  /** Live connections to each socket (to see a replaced session's connection go). */
  readonly connections = { serial: new Set<Socket>(), vnc: new Set<Socket>() };
  private constructor(
    readonly dir: string,
    readonly paths: LauncherSockets,
    private readonly servers: Server[],
    readonly namespace: string,
    readonly name: string,
  ) {}

  static async start(namespace: string, name: string): Promise<FakeVirtNode> {
    const base = await mkdtemp(join(tmpdir(), 'cairn-fake-virt-'));
    // Deeper than the 107 bytes of a sockaddr_un path, as under an agent's pod volumes.
    const dir = join(base, 'pods', 'x'.repeat(40), 'volumes', 'kubernetes.io~empty-dir', 'private');
    mkdirSync(dir, { recursive: true });
    const paths: LauncherSockets = { serial: join(dir, 'serial.sock'), serialLog: join(dir, 'serial.log'), vnc: join(dir, 'vnc.sock') };
    const node = new FakeVirtNode(base, paths, [], namespace, name);
    const serve = (path: string, kind: 'serial' | 'vnc', greeting: string) =>
      new Promise<Server>((resolve, reject) => {
        const srv = createServer((c) => {
          node.connections[kind].add(c);
          c.on('close', () => node.connections[kind].delete(c));
          c.on('error', () => {});
          c.write(greeting);
          c.on('data', (b: Buffer) => c.write(b.toString('latin1').toUpperCase(), 'latin1'));
        });
        srv.once('error', reject);
        // bind(2) takes no long path either: the directory's descriptor stands in, as for connect.
        const dirFd = openSync(dir, 'r');
        srv.listen({ path: `/proc/self/fd/${dirFd}/${path.slice(dir.length + 1)}` }, () => {
          closeSync(dirFd);
          resolve(srv);
        });
      });
    node.servers.push(await serve(paths.serial, 'serial', CONSOLE_GREETING), await serve(paths.vnc, 'vnc', RFB_GREETING));
    return node;
  }

  sockets(namespace: string, name: string): LauncherSockets {
    this.calls.push(`sockets ${namespace}/${name}`);
    this.requireVmi(namespace, name);
    return this.paths;
  }

  async pause(namespace: string, name: string): Promise<void> {
    this.calls.push(`pause ${namespace}/${name}`);
    this.requireVmi(namespace, name);
    if (this.paused) throw new VirtNodeError(409, 'VMI is already paused');
    this.paused = true;
  }

  async unpause(namespace: string, name: string): Promise<void> {
    this.calls.push(`unpause ${namespace}/${name}`);
    this.requireVmi(namespace, name);
    if (!this.paused) throw new VirtNodeError(409, 'VMI is not paused');
    this.paused = false;
  }

  async freeze(namespace: string, name: string, unfreezeTimeoutSeconds: number): Promise<void> {
    this.calls.push(`freeze ${namespace}/${name} ${unfreezeTimeoutSeconds}`);
    this.requireVmi(namespace, name);
  }

  async unfreeze(namespace: string, name: string): Promise<void> {
    this.calls.push(`unfreeze ${namespace}/${name}`);
    this.requireVmi(namespace, name);
  }

  async stop(): Promise<void> {
    for (const set of Object.values(this.connections)) for (const c of set) c.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private requireVmi(namespace: string, name: string): void {
    if (namespace !== this.namespace || name !== this.name) throw new VirtNodeError(404, `VMI ${namespace}/${name} does not exist`);
  }
}
