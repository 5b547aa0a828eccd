/**
 * The Service proxy's sync loop (upstream's nftables Proxier): Services and EndpointSlices from
 * a cache in, the node's `ip cairn` table out. Changes are tracked by Service key; each sync
 * renders only the changed Services and applies the difference to what the kernel holds in one
 * transaction. The first sync and a sync after a failed one are full resyncs: the kernel's own
 * objects are read back and everything of the proxy is flushed and refilled atomically, so
 * nothing depends on memory a restart or an error would have lost. (No periodic full resync as
 * upstream's hourly one: at 10,000 Services it is one transaction of tens of seconds, holding
 * the nftables lock every other part of the node needs.)
 *
 * A Service that cannot be programmed (InvalidServiceError, a value nft refuses) is skipped with
 * a warning and an Event, and the rest sync as usual; an address two Services claim (a copied
 * LoadBalancer status, clashing external IPs) stays with the one that had it first.
 */
import type { Logger } from '../client/index.js';
import { type Conntrack } from '../net/conntrack.js';
import { InvalidArgumentError } from '../net/ip.js';
import { type Nft, NftInvalidError } from '../net/nft.js';
import type { KubeObject } from '../util/object.js';
import { serviceEndpoints } from './endpoints.js';
import { AFFINITY_SET } from './names.js';
import { type ElementSpec, renderService, type RulesetConfig, type ServiceRules } from './ruleset.js';
import { InvalidServiceError, servicePorts } from './service-ports.js';
import { SyncRunner } from './sync-runner.js';
import { type KernelObjects, writeFullResync, writeServiceChanges } from './transaction.js';
import { clearStaleUdpEntries, udpServicePorts, type UdpServicePort } from './udp-conntrack.js';

/** Where the proxier reads Services and their EndpointSlices (informer caches, or a benchmark's maps). */
export interface ServiceSource {
  /** Every Service key ("namespace/name"). */
  keys(): Iterable<string>;
  service(key: string): KubeObject | undefined;
  /** The EndpointSlices labelled kubernetes.io/service-name with the Service's name. */
  slices(key: string): readonly KubeObject[];
}

export interface ProxierOptions extends RulesetConfig {
  nft: Nft;
  conntrack: Conntrack;
  source: ServiceSource;
  nodeName: string;
  logger: Logger;
  /** A Service the proxy skips, wholly or in part: reason and message for an Event. */
  onProblem?(svc: KubeObject, reason: string, message: string): void;
  /** Least time between the starts of two syncs (bursts of changes coalesce). */
  minSyncIntervalMs?: number;
}

export interface SyncStats {
  full: boolean;
  /** Services rendered. */
  services: number;
  /** Changes in the transaction (chains, sets and element batches); full resyncs count every Service. */
  changes: number;
  durationMs: number;
  /** UDP conntrack entries deleted. */
  conntrackDeleted: number;
}

const MIN_SYNC_INTERVAL_MS = 5;
/** A full resync of tens of thousands of Services is one large transaction. */
const FULL_RESYNC_TIMEOUT_MS = 600_000;
const SYNC_TIMEOUT_MS = 60_000;
const MAX_RETRY_MS = 30_000;

export class Proxier {
  /** What the kernel holds, per Service key, as of the last successful sync. */
  private readonly applied = new Map<string, ServiceRules>();
  /** Which Service each map or set element belongs to. */
  private readonly owners = new Map<string, string>();
  /** Services that wanted an element another one owns, to render again once it is free. */
  private readonly waiting = new Map<string, Set<string>>();
  private readonly problems = new Map<string, string>();
  private dirty = new Set<string>();
  private needFull = true;
  private failures = 0;
  private readonly runner: SyncRunner;
  private readonly cfg: RulesetConfig;
  /** The last sync that reached the kernel. */
  lastSync?: SyncStats;
  private onAttempt?: () => void;

  constructor(private readonly o: ProxierOptions) {
    this.cfg = { clusterCidr: o.clusterCidr, serviceCidr: o.serviceCidr, nodeIPs: o.nodeIPs };
    this.runner = new SyncRunner(() => this.sync(), o.minSyncIntervalMs ?? MIN_SYNC_INTERVAL_MS);
  }

  /**
   * Runs the first (full) sync and keeps syncing on changes. Resolves after that first attempt,
   * successful or not (a failure is logged and retried with back-off: the agent runs on).
   */
  async start(): Promise<void> {
    const attempted = new Promise<void>((resolve) => (this.onAttempt = resolve));
    this.runner.run();
    await attempted;
  }

  async stop(): Promise<void> {
    await this.runner.stop();
  }

  /** The Service (or its endpoints) changed. */
  changed(key: string): void {
    this.dirty.add(key);
    this.runner.run();
  }

  requestFullResync(): void {
    this.needFull = true;
    this.runner.run();
  }

  /** Resolves when every change seen so far has been synced (or its sync has failed). */
  whenSynced(): Promise<void> {
    return this.runner.whenIdle();
  }

  private async sync(): Promise<void> {
    const full = this.needFull;
    try {
      await this.syncOnce(full);
      this.failures = 0;
    } catch (e) {
      // What the kernel holds is now unknown: the next sync reads it back and rebuilds.
      this.needFull = true;
      this.failures++;
      const retryMs = Math.min(1000 * 2 ** (this.failures - 1), MAX_RETRY_MS);
      this.o.logger({ level: 'error', msg: 'service proxy sync failed', full, retryMs, error: (e as Error).message });
      this.runner.retryAfter(retryMs);
    } finally {
      this.onAttempt?.();
      this.onAttempt = undefined;
    }
  }

  private async syncOnce(full: boolean): Promise<void> {
    const started = performance.now();
    let keys: string[];
    if (full) {
      keys = [...new Set([...this.o.source.keys(), ...this.applied.keys()])];
      this.dirty.clear();
      this.owners.clear();
      this.waiting.clear();
    } else {
      keys = [...this.dirty];
      this.dirty = new Set();
      if (!keys.length) return;
    }
    keys.sort(this.olderFirst);

    const released = new Set<string>();
    for (const k of keys) {
      for (const id of this.applied.get(k)?.elements.keys() ?? []) {
        if (this.owners.get(id) !== k) continue;
        this.owners.delete(id);
        released.add(id);
      }
    }
    const rendered = new Map<string, { rules?: ServiceRules; udp: UdpServicePort[] }>();
    for (const k of keys) rendered.set(k, this.render(k));

    const script = this.o.nft.script();
    let changes: number;
    if (full) {
      writeFullResync(script, this.cfg, await this.kernelObjects(), [...rendered.values()].flatMap((r) => (r.rules ? [r.rules] : [])));
      changes = keys.length;
    } else {
      changes = writeServiceChanges(
        script,
        keys.map((k) => ({ before: this.applied.get(k), after: rendered.get(k)!.rules })),
      );
    }
    await this.o.nft.apply(script, { timeoutMs: full ? FULL_RESYNC_TIMEOUT_MS : SYNC_TIMEOUT_MS });

    if (full) this.applied.clear();
    const udpChanged: UdpServicePort[] = [];
    for (const k of keys) {
      const r = rendered.get(k)!;
      if (r.rules) this.applied.set(k, r.rules);
      else this.applied.delete(k);
      udpChanged.push(...r.udp);
    }
    this.needFull = false;
    for (const id of released) {
      if (this.owners.has(id)) continue;
      for (const k of this.waiting.get(id) ?? []) this.changed(k);
      this.waiting.delete(id);
    }

    let conntrackDeleted = 0;
    try {
      conntrackDeleted = await clearStaleUdpEntries(this.o.conntrack, udpChanged, this.o.nodeIPs);
    } catch (e) {
      this.o.logger({ level: 'warn', msg: 'could not clear stale UDP conntrack entries', error: (e as Error).message });
    }
    this.lastSync = { full, services: keys.length, changes, durationMs: performance.now() - started, conntrackDeleted };
    if (full) this.o.logger({ level: 'info', msg: 'service proxy full resync', services: this.applied.size, durationMs: Math.round(this.lastSync.durationMs) });
  }

  /** Older Services first, so the one that had an address keeps it against a newer claimant. */
  private readonly olderFirst = (a: string, b: string): number => {
    const ta = this.o.source.service(a)?.metadata.creationTimestamp ?? '';
    const tb = this.o.source.service(b)?.metadata.creationTimestamp ?? '';
    return ta < tb ? -1 : ta > tb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  };

  /** Renders one Service and claims its elements; undefined rules: nothing to program. */
  private render(key: string): { rules?: ServiceRules; udp: UdpServicePort[] } {
    const svc = this.o.source.service(key);
    if (!svc) {
      this.problems.delete(key);
      return { udp: [] };
    }
    let rules: ServiceRules;
    let udp: UdpServicePort[];
    try {
      const ports = servicePorts(svc);
      const endpoints = serviceEndpoints(this.o.source.slices(key), this.o.nodeName);
      rules = renderService(ports, endpoints, this.cfg);
      udp = udpServicePorts(ports, endpoints);
    } catch (e) {
      if (!(e instanceof InvalidServiceError || e instanceof NftInvalidError || e instanceof InvalidArgumentError)) throw e;
      this.problem(svc, 'InvalidService', `not programmed: ${e.message}`);
      return { udp: [] };
    }
    const conflicts: string[] = [];
    for (const [id, e] of rules.elements) {
      const owner = this.owners.get(id);
      if (owner === undefined || owner === key) {
        this.owners.set(id, key);
        continue;
      }
      rules.elements.delete(id);
      conflicts.push(`${describe(e)} is already used by ${owner}`);
      let w = this.waiting.get(id);
      if (!w) this.waiting.set(id, (w = new Set()));
      w.add(key);
    }
    if (conflicts.length) this.problem(svc, 'AddressConflict', `partly programmed: ${conflicts.join('; ')}`);
    else this.problems.delete(key);
    return { rules, udp };
  }

  private problem(svc: KubeObject, reason: string, message: string): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    if (this.problems.get(key) === `${reason}: ${message}`) return;
    this.problems.set(key, `${reason}: ${message}`);
    this.o.logger({ level: 'warn', msg: 'service proxy skips a Service', service: key, reason, message });
    this.o.onProblem?.(svc, reason, message);
  }

  private async kernelObjects(): Promise<KernelObjects> {
    const [chains, sets] = await Promise.all([this.o.nft.listChains(), this.o.nft.listSets()]);
    return {
      chains: chains.map((c) => c.name),
      affinitySets: new Map(sets.filter((s) => AFFINITY_SET.test(s.name)).map((s) => [s.name, s.timeout])),
    };
  }
}

/** An element as a user reads it: "10.0.0.5 . tcp . 80 in service-ips". */
const describe = (e: ElementSpec) => `${e.key.map((k) => k.text).join(' . ')} (${e.container})`;
