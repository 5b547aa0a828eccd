/**
 * The node agent's volume manager: makes a pod's volumes ready before its containers start,
 * keeps API-backed contents (configMap, secret, downwardAPI, projected) current on every sync,
 * and removes everything when the pod is gone — from what is on disk, so an agent restart loses
 * nothing. Calls for one pod run one at a time.
 *
 * Failures are the kubelet's: a volume that cannot be set up is a VolumeSetupError (FailedMount)
 * and the pod waits; a volume that was ready earlier and fails only to refresh (its ConfigMap
 * was deleted under a running pod) keeps its last contents and is logged, since upstream does
 * not stop a running pod over it either.
 */
import { access, mkdir, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../client/log.js';
import { canonicalQuantity } from '../../kinds/core/quota-usage.js';
import { Mutex } from '../../net/exec.js';
import { parseQuantity } from '../../registry/validation.js';
import { mountsUnder, unmount } from '../mount.js';
import type { Pod, PodObjectSource } from '../pods/api-types.js';
import { EMPTY_DIR } from './empty-dir.js';
import { VolumeSetupError, VolumeTeardownError } from './errors.js';
import { pluginsDir, volumeDir, volumesDir, type PreparedVolume, type VolumePlugin } from './plugin.js';
import { pluginByDirName, pluginFor, UNSUPPORTED_VOLUME_MESSAGE } from './registry.js';
import { TokenManager, type ServiceAccountTokenSource } from './token-manager.js';
import { diskUsageBytes } from './usage.js';

export interface VolumeManagerOptions {
  /** DATA/pods */
  podsDir: string;
  source: PodObjectSource;
  tokens: ServiceAccountTokenSource;
  nodeName: string;
  /** The node's own plugins beside the built-ins (persistentVolumeClaim). */
  plugins?: readonly VolumePlugin[];
  logger?: Logger;
  now?: () => number;
}

export interface EmptyDirOverLimit {
  volume: string;
  usageBytes: number;
  limitBytes: number;
  /** The eviction message, upstream's text exactly (trailing space included). */
  message: string;
}

/** Pod uids become directory names: nothing that could step out of the pods dir. */
function checkUid(uid: string | undefined): string {
  if (!uid || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(uid)) throw new Error(`pod uid ${JSON.stringify(uid)} cannot name a directory`);
  return uid;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** upstream FsUserFrom: the runAsUser every (init) container has, if they all have the same one. */
function fsUserOf(pod: Pod): number | undefined {
  let user: number | undefined;
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    const u = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
    if (u === undefined || (user !== undefined && user !== u)) return undefined;
    user = u;
  }
  return user;
}

export class VolumeManager {
  private readonly tokens: TokenManager;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly locks = new Map<string, Mutex>();
  /** What setup last returned per pod: a volume whose refresh fails keeps this. */
  private readonly ready = new Map<string, Map<string, PreparedVolume>>();
  private root?: string;

  constructor(private readonly opts: VolumeManagerOptions) {
    const base = opts.logger ?? silentLogger;
    this.logger = (entry) => base({ ...entry, component: 'volumes', node: opts.nodeName });
    this.now = opts.now ?? Date.now;
    this.tokens = new TokenManager(opts.tokens, this.now, this.logger);
  }

  /**
   * Makes every volume of the pod ready on the host under DATA/pods/<uid>/volumes/<plugin>/<name>
   * and returns them by volume name. Idempotent; refreshes contents and tokens in place.
   * Throws the first VolumeSetupError (with `all` failures) when a volume is not ready.
   */
  async setup(pod: Pod): Promise<Map<string, PreparedVolume>> {
    const uid = checkUid(pod.metadata.uid);
    return this.lock(uid).run(async () => {
      const podDir = join(await this.podsRoot(), uid);
      await mkdir(volumesDir(podDir), { recursive: true, mode: 0o750 });
      const base = {
        pod,
        podDir,
        source: this.opts.source,
        tokens: this.tokens,
        fsGroup: pod.spec.securityContext?.fsGroup,
        fsUser: fsUserOf(pod),
        logger: this.logger,
        now: this.now,
      };
      const before = this.ready.get(uid);
      const out = new Map<string, PreparedVolume>();
      const failures: VolumeSetupError[] = [];
      for (const volume of pod.spec.volumes ?? []) {
        try {
          const plugin = pluginFor(volume, this.opts.plugins);
          if (!plugin) throw new Error(UNSUPPORTED_VOLUME_MESSAGE);
          out.set(volume.name, await plugin.setup({ ...base, volume }));
        } catch (e) {
          const err = new VolumeSetupError(volume.name, (e as Error).message);
          const earlier = before?.get(volume.name);
          if (!earlier) {
            failures.push(err);
            continue;
          }
          this.logger({ level: 'warn', msg: 'volume refresh failed, keeping its current contents', pod: `${pod.metadata.namespace}/${pod.metadata.name}`, error: err.message });
          out.set(volume.name, earlier);
        }
      }
      this.ready.set(uid, out);
      if (failures.length) {
        failures[0].all = failures;
        throw failures[0];
      }
      return out;
    });
  }

  /** Unmounts and removes every volume of a pod. Idempotent; needs nothing but the disk. */
  async teardown(podUid: string): Promise<void> {
    const uid = checkUid(podUid);
    try {
      await this.lock(uid).run(async () => {
        const podDir = join(await this.podsRoot(), uid);
        const vols = volumesDir(podDir);
        for (const dirName of await readdirOrEmpty(vols)) {
          const plugin = pluginByDirName(dirName, this.opts.plugins);
          if (!plugin?.teardown) continue;
          for (const volumeName of await readdirOrEmpty(join(vols, dirName))) {
            await plugin.teardown({ podUid: uid, podDir, volumeName, volumeDir: join(vols, dirName, volumeName), logger: this.logger });
          }
        }
        for (const m of await mountsUnder(vols)) {
          await unmount(m.mountPoint).catch((e: Error) => {
            const volume = m.mountPoint.slice(vols.length + 1).split('/')[1] ?? m.mountPoint;
            throw new VolumeTeardownError(uid, `UnmountVolume.TearDown failed for volume "${volume}" : ${e.message}`);
          });
        }
        // Never remove recursively through something still mounted.
        const left = await mountsUnder(vols);
        if (left.length) throw new VolumeTeardownError(uid, `volumes of pod ${uid} are still mounted: ${left.map((m) => m.mountPoint).join(', ')}`);
        await rm(vols, { recursive: true, force: true });
        await rm(pluginsDir(podDir), { recursive: true, force: true });
        await rmdir(podDir).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT' && e.code !== 'ENOTEMPTY') throw e;
        });
        this.tokens.forgetPod(uid);
        this.ready.delete(uid);
      });
    } finally {
      this.locks.delete(uid);
    }
  }

  /** Pod uids with volume dirs on disk (orphans are those no pod claims). */
  async podsOnDisk(): Promise<string[]> {
    const root = await this.podsRoot();
    const out: string[] = [];
    for (const uid of await readdirOrEmpty(root)) {
      const podDir = join(root, uid);
      if ((await exists(volumesDir(podDir))) || (await exists(pluginsDir(podDir)))) out.push(uid);
    }
    return out.sort();
  }

  /** emptyDir volumes using more than their sizeLimit: the kubelet evicts the pod for them. */
  async overLimit(pod: Pod): Promise<EmptyDirOverLimit[]> {
    const podDir = join(await this.podsRoot(), checkUid(pod.metadata.uid));
    const out: EmptyDirOverLimit[] = [];
    for (const v of pod.spec.volumes ?? []) {
      const limit = parseQuantity(v.emptyDir?.sizeLimit);
      if (!(limit > 0)) continue;
      let usage: number;
      try {
        usage = await diskUsageBytes(volumeDir(podDir, EMPTY_DIR, v.name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      if (usage <= limit) continue;
      const message = `Usage of EmptyDir volume "${v.name}" exceeds the limit "${canonicalQuantity(v.emptyDir!.sizeLimit)}". `;
      out.push({ volume: v.name, usageBytes: usage, limitBytes: limit, message });
    }
    return out;
  }

  private lock(uid: string): Mutex {
    let m = this.locks.get(uid);
    if (!m) this.locks.set(uid, (m = new Mutex()));
    return m;
  }

  /** The pods dir without symlinks: mount points are matched as paths. */
  private async podsRoot(): Promise<string> {
    if (!this.root) {
      await mkdir(this.opts.podsDir, { recursive: true });
      this.root = await realpath(this.opts.podsDir);
    }
    return this.root;
  }
}
