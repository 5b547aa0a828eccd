/**
 * The VirtHandler's live migrations (KubeVirt's migration-source.go and migration-target.go in
 * virt-handler): for each VMI it holds the one TargetMigration or SourceMigration this node runs,
 * starts it when migration-status.ts says so, and writes the handlers' fields of
 * `vmi.status.migrationState` as a merge patch of those fields alone (the controller writes the
 * others concurrently). The VirtHandler owns the launcher session; this drives the migration on it.
 */
import { join } from 'node:path';
import { isNotFound, type Informer } from '../../client/index.js';
import type { NodeAddonContext } from '../../agent/node-addon.js';
import type { Pod } from '../../agent/pods/api-types.js';
import type { KubeObject } from '../../util/object.js';
import { MIGRATION_PORT_BLOCK, MIGRATION_PORT_MEMORY, type MigrationConfiguration, type MigrationState, migrationStateOf } from '../migration/migration-state.js';
import { VMIS } from '../controllers/vm-api.js';
import { PRIVATE_DIR } from '../launcher/layout.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { guestMemory } from './launch-plan.js';
import type { LauncherSession } from './launcher-session.js';
import { EVENT } from './migration-options.js';
import type { ProxyTls } from './migration-proxy.js';
import { SourceMigration } from './migration-source.js';
import { abortedBeforeStartFields, outcomeFields, sourceAction, targetAction } from './migration-status.js';
import { TargetMigration } from './migration-target.js';
import { type MigrationTlsFiles, type MigrationTlsSource, sourceProxyTls, targetProxyTls, writeMigrationTls } from './migration-tls.js';
import { rfc3339 } from '../../controllers/util/nodes.js';

const NODES = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' } as const;

export interface MigrationHandlerDeps {
  ctx: NodeAddonContext;
  /** The address this node's target proxies listen on (its InternalIP). */
  nodeAddress: string;
  /** Routes the target pod's (handed-over) IP to this node; called once the guest runs here. */
  activatePodIpHandoff: (podUid: string) => Promise<void>;
  /** Reconcile the VMI again (the migration moved on). */
  requeue: (key: string) => void;
  /** The node's certificates for TLS on the migration stream. */
  tls: MigrationTlsSource;
}

/** A launcher's QEMU as the migration sees it. */
export interface MigrationLauncher {
  session: LauncherSession;
  /** /proc/<QEMU pid>/root */
  root: string;
  /** Device ids of the disks a migration copies (launch-plan.ts copiedDiskIds). */
  copiedDisks: string[];
}


export class MigrationHandler {
  private readonly nodes: Informer<KubeObject>;
  /** Per VMI key; kept (ready) after the guest arrived, so a stale cache never reports it twice. */
  private readonly targets = new Map<string, { uid: string; target?: TargetMigration; ready?: boolean }>();
  /** Per VMI key; kept after the migration ended, for the same reason. */
  private readonly sources = new Map<string, { uid: string; source: SourceMigration }>();
  /** Written at the first migration of this agent's life (certificates renewed by `cairn up` come with the restart). */
  private tlsFiles?: Promise<MigrationTlsFiles>;

  constructor(private readonly d: MigrationHandlerDeps) {
    this.nodes = d.ctx.informers.forResource<KubeObject>(NODES);
  }

  /** The agent stops: the proxies' listeners go; QEMU and the streams in flight go on, and the next agent adopts them. */
  async stop(): Promise<void> {
    const targets = [...this.targets.values()];
    const sources = [...this.sources.values()];
    this.targets.clear();
    this.sources.clear();
    for (const t of targets) await t.target?.detach();
    for (const s of sources) await s.source.detach();
  }

  /** Whether this VMI is a migration target here (before the VMI has moved). */
  isTarget(vmi: Vmi): boolean {
    return targetAction(migrationStateOf(vmi), this.d.ctx.nodeName, vmi.status?.nodeName) !== 'none';
  }

  private log(level: 'info' | 'warn', msg: string, vmi: Vmi, fields: Record<string, unknown> = {}): void {
    this.d.ctx.logger({ level, msg, vmi: `${vmi.metadata.namespace}/${vmi.metadata.name}`, ...fields });
  }

  /**
   * Writes the handler's migrationState fields only, on the migration named; a source writes
   * nothing once the VMI has moved away from it.
   */
  private async patchState(vmi: Vmi, migrationUid: string, fields: Partial<MigrationState>, role: 'source' | 'target'): Promise<void> {
    const cur = this.vmiNow(vmi);
    if (!cur || migrationStateOf(cur)?.migrationUid !== migrationUid) return;
    if (role === 'source' && cur.status?.nodeName !== this.d.ctx.nodeName) return;
    try {
      await this.d.ctx.client.resource<Vmi>(VMIS).patch(vmi.metadata.name!, { status: { migrationState: fields } }, 'merge', { namespace: vmi.metadata.namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private vmiNow(vmi: Vmi): Vmi | undefined {
    return this.d.ctx.informers.forResource<Vmi>(VMIS).store.getByName(vmi.metadata.name!, vmi.metadata.namespace);
  }

  /** The proxies' TLS toward `peerNode`, or undefined when the configuration disables it. */
  private async proxyTls(config: MigrationConfiguration, role: 'source' | 'target', peerNode: string): Promise<{ tls?: ProxyTls }> {
    if (config.disableTLS) return {};
    this.tlsFiles ??= writeMigrationTls(join(this.d.ctx.dataDir, 'virt', 'migration-tls'), this.d.tls);
    const files = await this.tlsFiles.catch((e: unknown) => {
      this.tlsFiles = undefined;
      throw e;
    });
    return { tls: role === 'source' ? sourceProxyTls(files, peerNode) : targetProxyTls(files, peerNode) };
  }

  private nodeInternalIP(name: string): string | undefined {
    const n = this.nodes.store.getByName(name) as (KubeObject & { status?: { addresses?: { type: string; address: string }[] } }) | undefined;
    return n?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  }

  /** The target node's part for a VMI isTarget() names. */
  async target(key: string, vmi: Vmi, pod: Pod, l: MigrationLauncher): Promise<{ requeueAfterMs?: number } | void> {
    const ms = migrationStateOf(vmi)!;
    const action = targetAction(ms, this.d.ctx.nodeName, vmi.status?.nodeName);
    let t = this.targets.get(key);
    if (t && t.uid !== ms.migrationUid) {
      await t.target?.finish();
      this.targets.delete(key);
      t = undefined;
    }
    if (action === 'cleanUp') {
      await t?.target?.finish();
      this.targets.delete(key);
      return;
    }
    if (action !== 'prepare' || t?.ready) return;
    if (!t) {
      const runState = l.session.state().runState;
      if (runState === 'inmigrate') {
        const sourceAddress = this.nodeInternalIP(ms.sourceNode);
        if (!sourceAddress) return { requeueAfterMs: 1_000 };
        const target = await TargetMigration.prepare({
          qmp: l.session.qmp,
          root: l.root,
          privateDir: PRIVATE_DIR,
          ...(this.d.ctx.nodeNetns !== undefined ? { netns: this.d.ctx.nodeNetns } : {}),
          nodeAddress: this.d.nodeAddress,
          sourceAddress,
          migrationUid: ms.migrationUid,
          config: ms.migrationConfiguration,
          copiedDisks: l.copiedDisks,
          ...(ms.targetDirectMigrationNodePorts ? { ports: ms.targetDirectMigrationNodePorts } : {}),
          ...(await this.proxyTls(ms.migrationConfiguration, 'target', ms.sourceNode)),
        });
        t = { uid: ms.migrationUid, target };
        this.targets.set(key, t);
        if (!ms.targetNodeAddress) {
          this.log('info', 'migration target ready', vmi, { migration: ms.migrationUid, address: this.d.nodeAddress, ports: target.ports });
          this.d.ctx.recorder.event(vmi, 'Normal', 'PreparingTarget', EVENT.listening(this.d.nodeAddress, Object.keys(target.ports).map(Number)));
        }
        await this.patchState(vmi, ms.migrationUid, { targetNodeAddress: this.d.nodeAddress, targetDirectMigrationNodePorts: target.ports, targetNodeDomainDetected: true }, 'target');
      } else if (runState === 'unknown') {
        return { requeueAfterMs: 500 };
      }
      // Otherwise QEMU has already taken the guest in (an agent restarted after the switchover).
    }
    if (t?.target && !(await t.target.guestHere())) return { requeueAfterMs: 1_000 };
    // The address first: the guest runs here already and its peers' packets still go to the source.
    await this.d.activatePodIpHandoff(pod.metadata.uid!);
    await t?.target?.finish();
    this.targets.set(key, { uid: ms.migrationUid, ready: true });
    if (vmi.status?.conditions?.some((c) => c.type === 'Paused' && c.status === 'True' && c.reason === 'PausedByUser')) await l.session.adoptUserPause();
    await this.patchState(vmi, ms.migrationUid, { targetNodeDomainReadyTimestamp: rfc3339() }, 'target');
    this.log('info', 'migrated guest runs on the target', vmi, { migration: ms.migrationUid });
  }

  /** The source node's part, on a VMI running here. */
  async source(key: string, vmi: Vmi, l: MigrationLauncher): Promise<void> {
    const ms = migrationStateOf(vmi);
    const s = this.sources.get(key);
    if (s && s.uid !== ms?.migrationUid) {
      // A migration this node no longer follows (its VMIM and state are gone): it cannot be reported.
      s.source.abort();
      this.sources.delete(key);
    }
    if (!ms) return;
    // The target failed after QEMU here had handed the guest over (it could not load what it got):
    // the guest is still whole here, paused in postmigrate, and resumes, as libvirt's Confirm does.
    if (ms.failed && ms.completed && ms.sourceNode === this.d.ctx.nodeName && vmi.status?.nodeName === this.d.ctx.nodeName && l.session.state().runState === 'postmigrate') {
      await l.session.qmp.cont();
      this.log('info', 'migration target failed after the hand-over: the guest resumed on the source', vmi, { migration: ms.migrationUid });
      this.d.ctx.recorder.event(vmi, 'Warning', 'Migrated', EVENT.resumedOnSource(this.d.ctx.nodeName));
      return;
    }
    const running = this.sources.get(key);
    if (running && !running.source.ended) {
      if (ms.abortRequested && !running.source.aborting) {
        running.source.abort();
        this.d.ctx.recorder.event(vmi, 'Normal', 'Migrating', EVENT.aborting);
        await this.patchState(vmi, ms.migrationUid, { abortStatus: 'Aborting' }, 'source');
      }
      return;
    }
    switch (sourceAction(ms, this.d.ctx.nodeName)) {
      case 'abortBeforeStart':
        // An ended one's outcome is on its way (the cache is behind).
        if (running) return;
        this.d.ctx.recorder.event(vmi, 'Normal', 'Migrating', EVENT.aborting);
        await this.patchState(vmi, ms.migrationUid, abortedBeforeStartFields(rfc3339()), 'source');
        return;
      case 'abortTooLate':
        await this.patchState(vmi, ms.migrationUid, { abortStatus: 'Failed' }, 'source');
        return;
      case 'migrate':
        if (running) return;
        break;
      case 'none':
        return;
    }
    const ports = Object.entries(ms.targetDirectMigrationNodePorts!);
    const port = (kind: number) => ports.find(([, v]) => v === kind)?.[0];
    const blocks = await l.session.qmp.queryBlock();
    const copiedDiskBytes = l.copiedDisks.reduce((n, id) => n + (blocks.find((b) => b.inserted?.['node-name'] === `drive-${id}`)?.inserted?.image?.['virtual-size'] ?? 0), 0);
    const memoryPort = port(MIGRATION_PORT_MEMORY);
    const blockPort = port(MIGRATION_PORT_BLOCK);
    if (memoryPort === undefined) return;
    const uid = ms.migrationUid;
    const tls = await this.proxyTls(ms.migrationConfiguration, 'source', ms.targetNode);
    const source = SourceMigration.start({
      qmp: l.session.qmp,
      root: l.root,
      privateDir: PRIVATE_DIR,
      ...(this.d.ctx.nodeNetns !== undefined ? { netns: this.d.ctx.nodeNetns } : {}),
      targetAddress: ms.targetNodeAddress!,
      memoryPort: Number(memoryPort),
      ...(blockPort !== undefined ? { blockPort: Number(blockPort) } : {}),
      ...tls,
      config: ms.migrationConfiguration,
      copiedDisks: l.copiedDisks,
      memoryBytes: guestMemory(vmi),
      copiedDiskBytes,
      ...(ms.startTimestamp ? { adopt: { startedAtMs: Date.parse(ms.startTimestamp) } } : {}),
      onMode: (mode) => {
        const first = mode === 'PreCopy';
        if (first) this.d.ctx.recorder.event(vmi, 'Normal', 'Migrating', EVENT.migrating);
        void this.patchState(vmi, uid, { ...(first ? { startTimestamp: rfc3339() } : {}), mode }, 'source').catch((e: Error) => this.log('warn', 'migration state not written', vmi, { error: e.message }));
      },
      log: (msg, fields) => this.log('info', msg, vmi, { migration: uid, ...fields }),
    });
    this.sources.set(key, { uid, source });
    if (ms.abortRequested) source.abort();
    void source.done.then(async (o) => {
      if (this.sources.get(key)?.source !== source) return;
      const latest = this.vmiNow(vmi) ?? vmi;
      const aborted = migrationStateOf(latest)?.abortRequested === true;
      if (o.result === 'completed') {
        this.log('info', 'migration completed', vmi, { migration: uid, target: ms.targetNode, downtimeMs: o.downtimeMs, totalMs: o.totalMs });
        this.d.ctx.recorder.event(vmi, 'Normal', 'Migrated', EVENT.migrated(ms.targetNode, o.downtimeMs, o.totalMs));
      } else {
        this.log('warn', 'migration failed', vmi, { migration: uid, reason: o.reason });
        this.d.ctx.recorder.event(vmi, 'Warning', 'Migrated', EVENT.failed(uid, o.reason));
      }
      await this.patchState(latest, uid, outcomeFields(o, aborted, rfc3339()), 'source');
      this.d.requeue(key);
    }).catch((e: Error) => this.log('warn', 'migration result not written', vmi, { migration: uid, error: e.message }));
  }

  /** Drops what this node held for a VMI (gone, or its QEMU ended). */
  forget(key: string): void {
    this.sources.get(key)?.source.abort();
    this.sources.delete(key);
    const t = this.targets.get(key);
    this.targets.delete(key);
    void t?.target?.finish();
  }
}
