// A client of the QEMU guest agent protocol (qemu-ga, or the test guest's own small agent) over
// the unix socket behind the VM's org.qemu.guest_agent.0 channel. The protocol has no greeting
// and no ids: one command, one reply, in order — so commands run one at a time, and a session
// starts with guest-sync-delimited (the reply follows a 0xFF byte), which discards whatever a
// previous session left in the channel. No answer to the sync means no agent is running: that
// is KubeVirt's AgentConnected=False.
import { connect, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { Mutex } from '../../net/exec.js';

export class GuestAgentError extends Error {
  override name = 'GuestAgentError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`guest agent ${command}: ${errorClass}: ${desc}`);
  }
}
export class GuestAgentTimeoutError extends Error {
  override name = 'GuestAgentTimeoutError';
}
export class GuestAgentClosedError extends Error {
  override name = 'GuestAgentClosedError';
}

export interface GuestInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address-type': 'ipv4' | 'ipv6'; 'ip-address': string; prefix: number }[];
}
export interface GuestOsInfo {
  id?: string;
  name?: string;
  'kernel-release'?: string;
  machine?: string;
}

export class GuestAgentClient {
  private buf = '';
  private synced = false;
  private waiter?: (line: string) => void;
  private closedError?: Error;
  private readonly mutex = new Mutex();

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', (e) => this.onClose(new GuestAgentClosedError(`guest agent: ${e.message}`)));
    sock.on('close', () => this.onClose(new GuestAgentClosedError('guest agent: connection closed')));
  }

  /** Connects and synchronises; GuestAgentTimeoutError when no agent answers within timeoutMs. */
  static async connect(path: string, opts: { timeoutMs?: number } = {}): Promise<GuestAgentClient> {
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.once('error', (e) => reject(new GuestAgentClosedError(`guest agent ${path}: ${e.message}`)));
    });
    const client = new GuestAgentClient(sock);
    const id = randomInt(1, 2 ** 31);
    try {
      const got = await client.execute<number>('guest-sync-delimited', { id }, { timeoutMs: opts.timeoutMs ?? 5_000 });
      if (got !== id) throw new GuestAgentError('guest-sync-delimited', 'SyncMismatch', `expected ${id}, got ${JSON.stringify(got)}`);
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  private onData(d: string): void {
    // The sync reply's 0xFF delimiter: everything before it is stale output of an earlier
    // session, and nothing counts until it has come.
    const ff = d.lastIndexOf('\xff');
    if (ff >= 0) {
      this.synced = true;
      this.buf = d.slice(ff + 1);
    } else if (this.synced) this.buf += d;
    else return;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line && this.waiter) this.waiter(Buffer.from(line, 'latin1').toString('utf8'));
    }
  }

  private onClose(e: Error): void {
    this.closedError ??= e;
  }

  /** Runs one command (after any in flight); resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    return this.mutex.run(
      () =>
        new Promise<T>((resolve, reject) => {
          if (this.closedError) return reject(this.closedError);
          const timeoutMs = opts.timeoutMs ?? 10_000;
          const onClose = (): void => finish(() => reject(this.closedError));
          const timer = setTimeout(() => {
            // The channel's state is unknown now: a later reply would be taken for the next command's.
            finish(() => reject(new GuestAgentTimeoutError(`guest agent ${command}: no reply within ${timeoutMs} ms`)));
            this.close();
          }, timeoutMs);
          const finish = (f: () => void): void => {
            clearTimeout(timer);
            this.waiter = undefined;
            this.sock.off('close', onClose);
            f();
          };
          this.sock.once('close', onClose);
          this.waiter = (line) => {
            let msg: { return?: unknown; error?: { class?: string; desc?: string } };
            try {
              msg = JSON.parse(line) as typeof msg;
            } catch {
              return finish(() => reject(new GuestAgentError(command, 'ProtocolError', `unparseable reply ${JSON.stringify(line.slice(0, 200))}`)));
            }
            if (msg.error) finish(() => reject(new GuestAgentError(command, msg.error!.class ?? 'GenericError', msg.error!.desc ?? 'unknown error')));
            else finish(() => resolve(msg.return as T));
          };
          this.sock.write(JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }) + '\n');
        }),
    );
  }

  close(): void {
    this.onClose(new GuestAgentClosedError('guest agent: closed'));
    this.sock.destroy();
  }

  async ping(): Promise<void> {
    await this.execute('guest-ping');
  }
  async hostName(): Promise<string> {
    return (await this.execute<{ 'host-name': string }>('guest-get-host-name'))['host-name'];
  }
  osInfo(): Promise<GuestOsInfo> {
    return this.execute<GuestOsInfo>('guest-get-osinfo');
  }
  /** The guest's NICs and addresses (KubeVirt's status.interfaces come from here). */
  networkInterfaces(): Promise<GuestInterface[]> {
    return this.execute<GuestInterface[]>('guest-network-get-interfaces');
  }
  /** Freezes the guest's filesystems (before a snapshot); resolves with how many. */
  fsfreezeFreeze(): Promise<number> {
    return this.execute<number>('guest-fsfreeze-freeze', undefined, { timeoutMs: 60_000 });
  }
  fsfreezeThaw(): Promise<number> {
    return this.execute<number>('guest-fsfreeze-thaw', undefined, { timeoutMs: 60_000 });
  }
  fsfreezeStatus(): Promise<'frozen' | 'thawed'> {
    return this.execute<'frozen' | 'thawed'>('guest-fsfreeze-status');
  }
}
