/**
 * The target node's side of a live migration (KubeVirt's migration target in virt-handler and
 * virt-launcher): QEMU, started with `-incoming defer`, is given the capabilities the source
 * needs and listens with `migrate-incoming` on a unix socket in its launcher; each copied disk is
 * exported writable by QEMU's NBD server (another unix socket); the target proxies put both on
 * the node's address for the source node alone, over TLS unless disabled. Done once QEMU has left `inmigrate` (the guest
 * runs here); then the NBD server and the proxies go.
 *
 * prepare() is safe to run again on a QEMU already prepared (a restarted agent): what QEMU
 * already does is left as it is, and the ports are the same deterministic first choices.
 */
import { MIGRATION_FILES, MIGRATION_PORT_BLOCK, MIGRATION_PORT_MEMORY, type MigrationConfiguration } from '../migration/migration-state.js';
import { type QmpClient, QmpError } from '../qemu/qmp-client.js';
import { MigrationProxy, type ProxyTls } from './migration-proxy.js';
import { targetCapabilities, targetPortCandidates } from './migration-options.js';

export interface TargetMigrationInput {
  qmp: QmpClient;
  /** The launcher's root as the host sees it: /proc/<QEMU pid>/root ('' for a QEMU of the host's). */
  root: string;
  /** The launcher's private directory as QEMU sees it (layout.ts's PRIVATE_DIR). */
  privateDir: string;
  /** The node's network namespace the proxies run in (the agent's --node-netns). */
  netns?: string;
  /** This node's address the source connects to. */
  nodeAddress: string;
  /** The only peer the proxies accept: the source node's address. */
  sourceAddress: string;
  migrationUid: string;
  config: MigrationConfiguration;
  /** Device ids (QEMU's block node `drive-ID`) of the disks the source copies. */
  copiedDisks: string[];
  /** Ports a restarted agent had published (reopened as they were). */
  ports?: Record<string, number>;
  /** TLS toward the source node (migration-tls.ts); undefined with disableTLS. */
  tls?: ProxyTls;
}

/** QEMU's refusals of a step it has already taken (a second prepare() on the same QEMU). */
function already(e: unknown): boolean {
  return e instanceof QmpError && /already/i.test(e.desc);
}

export class TargetMigration {
  private constructor(
    private readonly qmp: QmpClient,
    private readonly proxies: MigrationProxy[],
    /** Node port → MIGRATION_PORT_MEMORY / MIGRATION_PORT_BLOCK (targetDirectMigrationNodePorts). */
    readonly ports: Record<string, number>,
  ) {}

  static async prepare(i: TargetMigrationInput): Promise<TargetMigration> {
    const { qmp } = i;
    const tolerate = (e: unknown) => {
      if (!already(e)) throw e;
    };
    const status = (await qmp.queryStatus()).status;
    if (status !== 'inmigrate') throw new TargetMigrationError(`the target QEMU is ${status}, not waiting for a migration`);
    await qmp.migrateSetCapabilities(targetCapabilities(i.config)).catch(tolerate);
    await qmp.migrateIncoming(`unix:${i.privateDir}/${MIGRATION_FILES.incoming}`).catch(tolerate);
    if (i.copiedDisks.length) {
      await qmp.nbdServerStart({ type: 'unix', path: `${i.privateDir}/${MIGRATION_FILES.nbd}` }).catch(tolerate);
      for (const id of i.copiedDisks) await qmp.nbdServerAdd(`drive-${id}`, { writable: true }).catch(tolerate);
    }
    const proxies: MigrationProxy[] = [];
    const ports: Record<string, number> = {};
    const opts = i.netns !== undefined ? { netns: i.netns } : {};
    const recorded = (kind: number) => Object.entries(i.ports ?? {}).find(([, v]) => v === kind)?.[0];
    try {
      const open = async (stream: 'memory' | 'block', file: string, kind: number) => {
        const r = recorded(kind);
        const p = await MigrationProxy.tcpToUnixOnFreePort(
          { bind: i.nodeAddress, allowFrom: i.sourceAddress, toSocket: `${i.root}${i.privateDir}/${file}`, ...(i.tls ? { tls: i.tls } : {}) },
          r !== undefined ? [Number(r)] : targetPortCandidates(i.migrationUid, stream),
          opts,
        );
        proxies.push(p);
        ports[String(p.port)] = kind;
      };
      await open('memory', MIGRATION_FILES.incoming, MIGRATION_PORT_MEMORY);
      if (i.copiedDisks.length) await open('block', MIGRATION_FILES.nbd, MIGRATION_PORT_BLOCK);
    } catch (e) {
      for (const p of proxies) await p.stop();
      throw e;
    }
    return new TargetMigration(qmp, proxies, ports);
  }

  /** Whether QEMU has finished the incoming migration (it no longer waits in `inmigrate`). */
  async guestHere(): Promise<boolean> {
    return (await this.qmp.queryStatus()).status !== 'inmigrate';
  }

  /** The agent stops: the listeners go; QEMU, its NBD server and the streams go on (the next agent adopts them). */
  async detach(): Promise<void> {
    for (const p of this.proxies.splice(0)) await p.stopListening();
  }

  /** The NBD server and the proxies, once the guest runs here or the migration is over. */
  async finish(): Promise<void> {
    if (!this.qmp.closed) {
      // None was started (no copied disks), or QEMU is gone: nothing to stop.
      await this.qmp.nbdServerStop().catch(() => undefined);
    }
    for (const p of this.proxies.splice(0)) await p.stop();
  }
}

export class TargetMigrationError extends Error {
  override name = 'TargetMigrationError';
}
