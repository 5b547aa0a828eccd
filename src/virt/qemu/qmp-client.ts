// A QMP client over QEMU's unix socket: reads the greeting, negotiates capabilities, runs typed
// commands (each with an id, matched to its reply; a failed command rejects with QmpError
// carrying QEMU's error class and description) and delivers asynchronous events (STOP, RESUME,
// SHUTDOWN, MIGRATION, BLOCK_JOB_READY, ...) to listeners and waiters. One client per socket:
// QEMU serves one QMP connection per monitor.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

/** QEMU refused a command: `class` is QEMU's error class (GenericError, DeviceNotFound, ...). */
export class QmpError extends Error {
  override name = 'QmpError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
  }
}
/** No reply (or no event) in time. */
export class QmpTimeoutError extends Error {
  override name = 'QmpTimeoutError';
}
/** The connection is closed (QEMU exited, or close() was called). */
export class QmpClosedError extends Error {
  override name = 'QmpClosedError';
}
/** The peer did not speak QMP (no greeting, or unparseable JSON). */
export class QmpProtocolError extends Error {
  override name = 'QmpProtocolError';
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}
export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

// Reply shapes of the commands Cairn uses (the fields it reads; QEMU sends more).
export interface StatusInfo {
  running: boolean;
  /** running, paused, prelaunch, inmigrate, postmigrate, shutdown, guest-panicked, ... */
  status: string;
}
export interface MigrationInfo {
  /** none, setup, active, postcopy-active, completed, failed, cancelling, cancelled, ... */
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'setup-time'?: number;
  ram?: { transferred: number; remaining: number; total: number; 'dirty-pages-rate'?: number; mbps?: number };
  'error-desc'?: string;
}
export interface BlockInfo {
  device: string;
  qdev?: string;
  removable: boolean;
  locked: boolean;
  inserted?: { file: string; 'node-name'?: string; drv: string; ro: boolean; image?: { filename: string; format: string; 'virtual-size': number } };
}
export interface BlockJobInfo {
  device: string;
  type: string;
  len: number;
  offset: number;
  ready: boolean;
  status: string;
}
export interface MigrationCapability {
  capability: 'auto-converge' | 'postcopy-ram' | 'xbzrle' | 'events' | 'return-path' | 'multifd' | 'pause-before-switchover' | 'late-block-activate';
  state: boolean;
}
export interface MigrationParameters {
  'max-bandwidth'?: number;
  'downtime-limit'?: number;
  'cpu-throttle-initial'?: number;
  'cpu-throttle-increment'?: number;
  'multifd-channels'?: number;
  'max-postcopy-bandwidth'?: number;
}

export interface QmpOptions {
  /** Give up connecting / waiting for the greeting after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Default timeout of each command (default 30 s). */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class QmpClient extends EventEmitter {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closedError?: Error;
  greeting!: QmpGreeting;

  private constructor(
    private readonly sock: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    super();
  }

  /** Connects to a QMP socket, reads the greeting and leaves capabilities negotiation done. */
  static async connect(path: string, opts: QmpOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const sock = connect(path);
    const client = new QmpClient(sock, opts.commandTimeoutMs ?? 30_000);
    const greeting = new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new QmpTimeoutError(`QMP ${path}: no greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      client.once('greeting', (g: QmpGreeting) => {
        clearTimeout(timer);
        resolve(g);
      });
      client.once('close', (e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => client.onData(chunk));
    sock.on('error', (e) => client.onClose(new QmpClosedError(`QMP ${path}: ${e.message}`)));
    sock.on('close', () => client.onClose(new QmpClosedError(`QMP ${path}: connection closed`)));
    client.greeting = await greeting;
    await client.execute('qmp_capabilities');
    return client;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.sock.destroy();
      this.onClose(new QmpProtocolError(`QMP: unparseable message ${JSON.stringify(line.slice(0, 200))}`));
      return;
    }
    if ('QMP' in msg) {
      this.emit('greeting', msg['QMP']);
      return;
    }
    if (typeof msg['event'] === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg['id'] === 'string' ? msg['id'] : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p || id === undefined) return; // a reply to nobody (a command that timed out)
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const err = (msg['error'] ?? {}) as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, err.class ?? 'GenericError', err.desc ?? 'unknown error'));
    } else p.resolve(msg['return']);
  }

  private onClose(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.emit('close', e);
  }

  /** Runs a QMP command; resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `cairn-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(`QMP ${command}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.sock.write(JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }) + '\n');
    });
  }

  /**
   * Waits for an event (optionally one whose data matches). Register before triggering the
   * command that causes it: events that arrived earlier are not replayed.
   */
  waitForEvent(name: string, opts: { timeoutMs?: number; match?: (e: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<QmpEvent>((resolve, reject) => {
      const onEvent = (e: QmpEvent): void => {
        if (e.event !== name || (opts.match && !opts.match(e))) return;
        done();
        resolve(e);
      };
      const onClose = (e: Error): void => {
        done();
        reject(e);
      };
      const timer = setTimeout(() => {
        done();
        reject(new QmpTimeoutError(`QMP: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Closes the connection (QEMU keeps running). */
  close(): void {
    this.sock.destroy();
    this.onClose(new QmpClosedError('QMP: closed'));
  }

  // -- the commands Cairn uses ----------------------------------------------------------------

  queryStatus(): Promise<StatusInfo> {
    return this.execute<StatusInfo>('query-status');
  }
  /** Pauses the guest's CPUs (KubeVirt's pause). */
  async stop(): Promise<void> {
    await this.execute('stop');
  }
  /** Resumes a paused guest, or starts one created with -S / after an incoming migration. */
  async cont(): Promise<void> {
    await this.execute('cont');
  }
  /** Presses the ACPI power button: the guest shuts down if it listens. */
  async systemPowerdown(): Promise<void> {
    await this.execute('system_powerdown');
  }
  async systemReset(): Promise<void> {
    await this.execute('system_reset');
  }
  /** Ends QEMU at once (the reply may not arrive before the socket closes). */
  async quit(): Promise<void> {
    await this.execute('quit').catch((e: unknown) => {
      if (!(e instanceof QmpClosedError)) throw e;
    });
  }
  queryMigrate(): Promise<MigrationInfo> {
    return this.execute<MigrationInfo>('query-migrate');
  }
  async migrateSetCapabilities(capabilities: MigrationCapability[]): Promise<void> {
    await this.execute('migrate-set-capabilities', { capabilities });
  }
  async migrateSetParameters(params: MigrationParameters): Promise<void> {
    await this.execute('migrate-set-parameters', { ...params });
  }
  /** Starts an outgoing migration to a `tcp:HOST:PORT` (or `unix:PATH`) URI. */
  async migrate(uri: string): Promise<void> {
    await this.execute('migrate', { uri });
  }
  /** On a QEMU started with -incoming defer: listens for the migration stream on this URI. */
  async migrateIncoming(uri: string): Promise<void> {
    await this.execute('migrate-incoming', { uri });
  }
  /** Lets a migration paused by the pause-before-switchover capability finish (after the block jobs). */
  async migrateContinue(state: 'pre-switchover' = 'pre-switchover'): Promise<void> {
    await this.execute('migrate-continue', { state });
  }
  async migrateCancel(): Promise<void> {
    await this.execute('migrate_cancel');
  }
  /** Switches a running pre-copy migration (with the postcopy-ram capability) to post-copy. */
  async migrateStartPostcopy(): Promise<void> {
    await this.execute('migrate-start-postcopy');
  }
  queryBlock(): Promise<BlockInfo[]> {
    return this.execute<BlockInfo[]>('query-block');
  }
  queryBlockJobs(): Promise<BlockJobInfo[]> {
    return this.execute<BlockJobInfo[]>('query-block-jobs');
  }
  /** Serves block nodes over NBD (the migration target exports its empty disks this way). */
  async nbdServerStart(addr: { type: 'inet'; host: string; port: number } | { type: 'unix'; path: string }): Promise<void> {
    const data = addr.type === 'inet' ? { host: addr.host, port: String(addr.port) } : { path: addr.path };
    await this.execute('nbd-server-start', { addr: { type: addr.type, data } });
  }
  async nbdServerAdd(device: string, opts: { name?: string; writable?: boolean } = {}): Promise<void> {
    await this.execute('nbd-server-add', { device, ...(opts.name !== undefined ? { name: opts.name } : {}), writable: opts.writable ?? false });
  }
  async nbdServerStop(): Promise<void> {
    await this.execute('nbd-server-stop');
  }
  /** Mirrors a block node into an existing target node (e.g. an NBD client blockdev). */
  async blockdevMirror(jobId: string, device: string, target: string, sync: 'full' | 'top' | 'none' = 'full'): Promise<void> {
    await this.execute('blockdev-mirror', { 'job-id': jobId, device, target, sync });
  }
  /** Mirrors a drive into a target path or URI QEMU opens itself (mode existing: no create). */
  async driveMirror(jobId: string, device: string, target: string, opts: { format?: string; sync?: 'full' | 'top' | 'none'; mode?: 'existing' | 'absolute-paths' } = {}): Promise<void> {
    await this.execute('drive-mirror', {
      'job-id': jobId,
      device,
      target,
      sync: opts.sync ?? 'full',
      mode: opts.mode ?? 'existing',
      ...(opts.format !== undefined ? { format: opts.format } : {}),
    });
  }
  async blockJobCancel(device: string, force = false): Promise<void> {
    await this.execute('block-job-cancel', { device, force });
  }
  async blockJobComplete(device: string): Promise<void> {
    await this.execute('block-job-complete', { device });
  }
  async blockdevAdd(node: Record<string, unknown>): Promise<void> {
    await this.execute('blockdev-add', node);
  }
  async blockdevDel(nodeName: string): Promise<void> {
    await this.execute('blockdev-del', { 'node-name': nodeName });
  }
}
