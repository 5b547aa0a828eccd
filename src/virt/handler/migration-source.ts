/**
 * The source node's side of a live migration (KubeVirt's live-migration-source, over QMP instead
 * of libvirt): the source proxies to the target node, QEMU's capabilities and parameters from the
 * MigrationConfiguration, a blockdev-mirror of every copied disk into the target's NBD exports,
 * `migrate` through the proxy, the switchover (the mirrors finished while the CPUs are stopped,
 * then `migrate-continue`), and KubeVirt's migration monitor: no progress for progressTimeout
 * seconds, or not done in completionTimeoutPerGiB × GiB, cancels (or switches to post-copy when
 * allowed); an abort cancels. It ends with an outcome the VirtHandler writes to the VMI.
 *
 * Every path QEMU is given is its own (PRIVATE_DIR in the launcher); the proxies reach the same
 * sockets through /proc/<QEMU pid>/root. A restarted agent adopts a migration QEMU still runs
 * (adopt: true): the forked proxy children kept the streams, and query-migrate tells the rest.
 */
import { MIGRATION_FILES, type MigrationConfiguration } from '../migration/migration-state.js';
import { type MigrationInfo, type QmpClient, QmpClosedError, QmpError, QmpTimeoutError } from '../qemu/qmp-client.js';
import { MigrationProxy, type ProxyTls } from './migration-proxy.js';
import { completionTimeoutSeconds, FAILURE, ProgressWatermark, sourceCapabilities, sourceParameters, timeoutVerdict } from './migration-options.js';

/** How long a completed migration's forwarding children may take to drain before they are ended. */
const DRAIN_GRACE_MS = 60_000;

export interface SourceMigrationInput {
  qmp: QmpClient;
  /** The launcher's root as the host sees it: /proc/<QEMU pid>/root ('' for a QEMU of the host's). */
  root: string;
  /** The launcher's private directory as QEMU sees it (layout.ts's PRIVATE_DIR). */
  privateDir: string;
  /** The node's network namespace the proxies run in (the agent's --node-netns). */
  netns?: string;
  targetAddress: string;
  /** The target node's ports for the memory stream and (when disks are copied) NBD. */
  memoryPort: number;
  blockPort?: number;
  /** TLS toward the target node (migration-tls.ts); undefined with disableTLS. */
  tls?: ProxyTls;
  config: MigrationConfiguration;
  /** Device ids (QEMU's block node `drive-ID`) of the disks to copy. */
  copiedDisks: string[];
  memoryBytes: number;
  copiedDiskBytes: number;
  /** The migration started (PreCopy: the disk mirrors, then `migrate`), or switched to PostCopy. */
  onMode: (mode: 'PreCopy' | 'PostCopy') => void;
  /** A restarted agent taking over a migration QEMU may still run; startedAtMs is its startTimestamp. */
  adopt?: { startedAtMs: number };
  pollMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export type SourceOutcome =
  | { result: 'completed'; downtimeMs?: number; totalMs?: number }
  | { result: 'failed'; reason: string; aborted: boolean };

const mirrorJob = (id: string) => `mirror-${id}`;
const nbdNode = (id: string) => `migration-${id}`;
const ACTIVE = new Set(['setup', 'active', 'pre-switchover', 'device', 'postcopy-active', 'postcopy-paused', 'postcopy-recover', 'cancelling', 'wait-unplug']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SourceMigration {
  /** Settles once, with how the migration ended (never rejects). */
  readonly done: Promise<SourceOutcome>;
  private abortRequested = false;
  private finished = false;
  private detached = false;
  private cancelReason?: string;
  private postCopy = false;
  private readonly proxies: MigrationProxy[] = [];

  private constructor(private readonly i: SourceMigrationInput) {
    this.done = this.run().finally(() => (this.finished = true));
  }

  get ended(): boolean {
    return this.finished;
  }

  static start(i: SourceMigrationInput): SourceMigration {
    return new SourceMigration(i);
  }

  /**
   * The agent stops: the listeners go, the streams and QEMU's migration go on, and nothing is
   * reported (the next agent adopts the migration).
   */
  async detach(): Promise<void> {
    this.detached = true;
    for (const p of this.proxies) await p.stopListening();
  }

  /** The VMIM was deleted: cancel (a post-copy migration cannot be cancelled and goes on). */
  abort(): void {
    this.abortRequested = true;
  }

  get aborting(): boolean {
    return this.abortRequested;
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.i.log?.(msg, fields);
  }

  private async run(): Promise<SourceOutcome> {
    const { qmp } = this.i;
    let wasRunning = true;
    let completed = false;
    try {
      await this.openProxies();
      if (this.i.adopt) {
        const info = await qmp.queryMigrate();
        if (!ACTIVE.has(info.status ?? 'none') && info.status !== 'completed') {
          await this.cleanUpFailed(true);
          return { result: 'failed', reason: `Live migration failed: the node agent restarted and QEMU reports the migration ${info.status ?? 'not started'}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`, aborted: false };
        }
        this.postCopy = info.status?.startsWith('postcopy') ?? false;
        const adopted = await this.monitor(this.i.adopt.startedAtMs);
        completed = adopted.result === 'completed';
        return adopted;
      }
      wasRunning = (await qmp.queryStatus()).status === 'running';
      const startedAtMs = Date.now();
      await qmp.migrateSetCapabilities(sourceCapabilities(this.i.config, this.i.copiedDisks.length > 0));
      await qmp.migrateSetParameters(sourceParameters(this.i.config));
      // The migration has started (KubeVirt's startTimestamp comes before libvirt copies the disks).
      this.i.onMode('PreCopy');
      const mirrored = await this.mirrorDisks(startedAtMs);
      if (mirrored) {
        await this.cleanUpFailed(wasRunning);
        return mirrored;
      }
      await qmp.migrate(`unix:${this.i.privateDir}/${MIGRATION_FILES.outgoing}`);
      this.log('migration started', { target: this.i.targetAddress, memoryPort: this.i.memoryPort, blockPort: this.i.blockPort });
      const out = await this.monitor(startedAtMs);
      completed = out.result === 'completed';
      if (out.result === 'failed') await this.cleanUpFailed(wasRunning);
      return out;
    } catch (e) {
      const reason = e instanceof QmpClosedError ? 'Live migration failed: the source QEMU exited' : `Live migration failed: ${(e as Error).message}`;
      if (!this.detached) await this.cleanUpFailed(wasRunning).catch(() => undefined);
      return { result: 'failed', reason, aborted: false };
    } finally {
      if (!this.detached) await this.stopProxies(completed);
    }
  }

  private async openProxies(): Promise<void> {
    const sock = (f: string) => `${this.i.root}${this.i.privateDir}/${f}`;
    const opts = this.i.netns !== undefined ? { netns: this.i.netns } : {};
    const tls = this.i.tls ? { tls: this.i.tls } : {};
    this.proxies.push(await MigrationProxy.unixToTcp({ socket: sock(MIGRATION_FILES.outgoing), host: this.i.targetAddress, port: this.i.memoryPort, ...tls }, opts));
    if (this.i.copiedDisks.length) {
      if (this.i.blockPort === undefined) throw new Error('the target published no block migration port');
      this.proxies.push(await MigrationProxy.unixToTcp({ socket: sock(MIGRATION_FILES.outgoingNbd), host: this.i.targetAddress, port: this.i.blockPort, ...tls }, opts));
    }
  }

  /**
   * After a completed migration only the listeners go: QEMU's `completed` means it wrote the last
   * bytes into the proxy, not that they reached the target, and the forwarding children end by
   * themselves once both sides closed (a group kill there truncated the stream under load, and the
   * target failed to load the guest). Whatever is still there after a while goes anyway.
   */
  private async stopProxies(completed: boolean): Promise<void> {
    const proxies = this.proxies.splice(0);
    if (!completed) {
      for (const p of proxies) await p.stop();
      return;
    }
    for (const p of proxies) await p.stopListening();
    setTimeout(() => void Promise.all(proxies.map((p) => p.stop())), DRAIN_GRACE_MS).unref();
  }

  /** Mirrors every copied disk into the target's NBD export until all are in sync; an outcome when it had to stop. */
  private async mirrorDisks(startedAtMs: number): Promise<SourceOutcome | undefined> {
    const { qmp } = this.i;
    for (const id of this.i.copiedDisks) {
      await qmp.blockdevAdd({ driver: 'nbd', 'node-name': nbdNode(id), server: { type: 'unix', path: `${this.i.privateDir}/${MIGRATION_FILES.outgoingNbd}` }, export: `drive-${id}` });
      await qmp.blockdevMirror(mirrorJob(id), `drive-${id}`, nbdNode(id), 'full');
    }
    const progress = new ProgressWatermark(startedAtMs);
    const completionS = completionTimeoutSeconds(this.i.config, this.i.memoryBytes, this.i.copiedDiskBytes);
    for (;;) {
      const jobs = (await qmp.queryBlockJobs()).filter((j) => this.i.copiedDisks.some((id) => j.device === mirrorJob(id)));
      if (jobs.length < this.i.copiedDisks.length) return { result: 'failed', reason: 'Live migration failed: a disk mirror ended before it was in sync', aborted: false };
      if (jobs.every((j) => j.ready)) return undefined;
      if (this.abortRequested) return { result: 'failed', reason: FAILURE.aborted, aborted: true };
      const now = Date.now();
      progress.observe(jobs.reduce((n, j) => n + (j.len - j.offset), 0), now);
      const v = timeoutVerdict(this.i.config, { stuckForMs: progress.stuckForMs(now), elapsedMs: now - startedAtMs, completionTimeoutS: completionS });
      if (v.kind !== 'none') return { result: 'failed', reason: FAILURE[v.kind](v.seconds), aborted: false };
      await sleep(this.i.pollMs ?? 500);
    }
  }

  /** Polls query-migrate until the migration ends; handles the switchover, the timeouts and an abort. */
  private async monitor(startedAtMs: number): Promise<SourceOutcome> {
    const { qmp } = this.i;
    const progress = new ProgressWatermark(Date.now());
    const completionS = completionTimeoutSeconds(this.i.config, this.i.memoryBytes, this.i.copiedDiskBytes);
    let cancelSent = false;
    for (;;) {
      // Woken by QEMU's MIGRATION event (registered before asking, so none is missed) or the poll:
      // the pre-switchover pause is part of the guest's downtime and must not wait for a poll.
      const next = qmp.waitForEvent('MIGRATION', { timeoutMs: this.i.pollMs ?? 500 }).then(
        () => undefined,
        (e: unknown) => {
          if (!(e instanceof QmpTimeoutError)) throw e;
        },
      );
      next.catch(() => undefined);
      const info: MigrationInfo = await qmp.queryMigrate();
      const status = info.status ?? 'none';
      if (status === 'completed') {
        this.log('migration completed', { downtimeMs: info.downtime, totalMs: info['total-time'] });
        return { result: 'completed', ...(info.downtime !== undefined ? { downtimeMs: info.downtime } : {}), ...(info['total-time'] !== undefined ? { totalMs: info['total-time'] } : {}) };
      }
      if (status === 'failed' || status === 'cancelled' || status === 'none') {
        if (this.abortRequested && cancelSent) return { result: 'failed', reason: FAILURE.aborted, aborted: true };
        const peer = this.proxies.map((p) => p.peerFailure).find((f) => f !== undefined);
        const why = `Live migration failed: ${info['error-desc'] ?? `QEMU reports the migration ${status}`}${peer ? ` (the connection to the target node: ${peer})` : ''}`;
        return { result: 'failed', reason: this.cancelReason ?? why, aborted: false };
      }
      if (status === 'pre-switchover') {
        await this.finishMirrors();
        await qmp.migrateContinue();
      } else if (status.startsWith('postcopy') && !this.postCopy) {
        this.postCopy = true;
        this.i.onMode('PostCopy');
      }
      if (!cancelSent && !this.postCopy && status !== 'cancelling') {
        const now = Date.now();
        if (info.ram) progress.observe(info.ram.remaining, now);
        const v = this.abortRequested ? undefined : timeoutVerdict(this.i.config, { stuckForMs: progress.stuckForMs(now), elapsedMs: now - startedAtMs, completionTimeoutS: completionS });
        if (v && v.kind === 'notCompleted' && this.i.config.allowPostCopy && status === 'active') {
          // KubeVirt: a migration allowed to go post-copy switches rather than fail.
          this.log('migration switches to post-copy', { afterSeconds: v.seconds });
          await qmp.migrateStartPostcopy();
        } else if (this.abortRequested || (v && v.kind !== 'none')) {
          if (v && v.kind !== 'none') this.cancelReason = FAILURE[v.kind](v.seconds);
          this.log('migration cancelled', { reason: this.cancelReason ?? FAILURE.aborted });
          await qmp.migrateCancel();
          cancelSent = true;
        }
      }
      await next;
    }
  }

  /**
   * At pre-switchover the source's CPUs are stopped, so each mirror is final: cancelling a READY
   * mirror completes it without pivoting (the source keeps its own image).
   */
  private async finishMirrors(): Promise<void> {
    const { qmp } = this.i;
    const jobs = new Set(this.i.copiedDisks.map(mirrorJob));
    for (const j of await qmp.queryBlockJobs()) if (jobs.has(j.device)) await qmp.blockJobCancel(j.device);
    for (;;) {
      const left = (await qmp.queryBlockJobs()).filter((j) => jobs.has(j.device));
      if (!left.length) return;
      await sleep(10);
    }
  }

  /**
   * After a failure: no mirror left writing to the target, the NBD clients gone, the guest running
   * if it was. The proxies go first: toward a target that died silently, QEMU's NBD requests hang
   * on them (and the drain of blockdev-del with them) until TCP gives up; closed, they fail at once.
   */
  private async cleanUpFailed(wasRunning: boolean): Promise<void> {
    const { qmp } = this.i;
    for (const p of this.proxies.splice(0)) await p.stop();
    if (qmp.closed) return;
    const ignore = (e: unknown) => {
      if (!(e instanceof QmpError || e instanceof QmpClosedError)) throw e;
    };
    for (const id of this.i.copiedDisks) await qmp.blockJobCancel(mirrorJob(id), true).catch(ignore);
    for (let n = 0; n < 100; n++) {
      const jobs = await qmp.queryBlockJobs().catch(() => []);
      if (!jobs.some((j) => this.i.copiedDisks.some((id) => j.device === mirrorJob(id)))) break;
      await sleep(50);
    }
    for (const id of this.i.copiedDisks) await qmp.blockdevDel(nbdNode(id)).catch(ignore);
    // QEMU resumes a guest it stopped for a migration that then failed; this makes sure of it.
    const st = await qmp.queryStatus().catch(() => undefined);
    if (wasRunning && st && st.status !== 'running') await qmp.cont().catch(ignore);
  }
}
