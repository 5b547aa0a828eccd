/**
 * CSI volumes on this node, the kubelet's csi plugin: a PersistentVolume with a `csi` source is
 * staged once per node (NodeStageVolume at DATA/plugins/kubernetes.io/csi/<driver>/<hash>/) and
 * published into each pod using it (NodePublishVolume at the pod's
 * volumes/kubernetes.io~csi/<volume>, a directory, or a `device` file in it for Block volumes);
 * when the last pod using it on the node goes, it is unpublished and unstaged.
 *
 * What is staged and published is written to disk before the driver is called — the pod's
 * plugins/kubernetes.io~csi/<volume>/vol_data.json and the staging dir's vol_data.json — so a
 * restarted agent undoes exactly what an earlier one did, also when it was killed half-way.
 * Who else uses a staged volume is read from the other pods' records, never from memory.
 */
import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../../client/log.js';
import type { KubeObject } from '../../util/object.js';
import { pvSpec } from '../../storage/api.js';
import type { Secrets, StorageDriver, VolumeMode } from '../../storage/driver.js';
import { KeyedMutex } from '../../storage/keyed-mutex.js';
import { csiPluginsDir, STAGING_RECORD, type StagingRecord, stagingDir, stagingPathIn } from '../../storage/node-paths.js';
import { pvCapability } from '../../storage/resizer.js';
import { mountAt } from '../mount.js';
import { setVolumeOwnership } from './ownership.js';
import { pluginDirName, pluginMetaDir, pluginsDir, volumeDir, type PreparedVolume, type VolumeContext, type VolumeTeardownContext } from './plugin.js';

export const CSI_PLUGIN = 'kubernetes.io/csi';

/** A pod volume's record: what it publishes and for which claim. */
interface PublishRecord extends StagingRecord {
  pvName: string;
  claimNamespace: string;
  claimName: string;
}

export interface PublishedVolume extends PublishRecord {
  podUid: string;
  stagingPath: string;
}

const readJson = async <T>(path: string): Promise<T | undefined> => {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
};

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function writeRecord(path: string, rec: object): Promise<void> {
  const text = JSON.stringify(rec);
  if ((await readFile(path, 'utf8').catch(() => '')) === text) return;
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  await writeFile(path, text, { mode: 0o600 });
}

/** upstream supportsFSGroup under the default ReadWriteOnceWithFSType policy. */
function appliesFsGroup(pv: KubeObject, readOnly: boolean): boolean {
  const s = pvSpec(pv);
  return !readOnly && !!s.csi?.fsType && (s.accessModes ?? []).some((m) => m === 'ReadWriteOnce' || m === 'ReadWriteOncePod');
}

/** fsGroupChangePolicy OnRootMismatch: the root already has the group and setgid. */
async function ownershipDone(dir: string, fsGroup: number): Promise<boolean> {
  const st = await stat(dir);
  return st.gid === fsGroup && (st.mode & 0o2000) !== 0;
}

export class CsiVolumes {
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly o: {
      /** The agent's data dir (staging dirs) and its pods dir (every pod's records). */
      dataDir: string;
      podsDir: string;
      drivers: ReadonlyMap<string, StorageDriver>;
      logger: Logger;
      /** Told after a volume was staged (a pending filesystem resize can finish). */
      onStaged?: (claimKey: string) => void;
      /** Reads the PV's nodeStageSecretRef (CSI hands NodeStageVolume that Secret's data). */
      nodeStageSecrets?: (pv: KubeObject) => Promise<Secrets | undefined>;
    },
  ) {}

  /** Stages (once per node) and publishes the PV's volume for the pod. */
  async setup(ctx: VolumeContext, pv: KubeObject, claim: KubeObject, readOnly: boolean): Promise<PreparedVolume> {
    const csi = pvSpec(pv).csi!;
    const driver = this.o.drivers.get(csi.driver);
    if (!driver) throw new Error(`kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name ${csi.driver} not found in the list of registered CSI drivers`);
    const capability = pvCapability(pv);
    const mode: VolumeMode = capability.mode;
    const dir = volumeDir(ctx.podDir, CSI_PLUGIN, ctx.volume.name);
    const target = mode === 'Block' ? join(dir, 'device') : dir;
    const sdir = stagingDir(this.o.dataDir, csi.driver, csi.volumeHandle);
    const staging = stagingPathIn(sdir, mode);
    const prepared: PreparedVolume = { hostPath: target, readOnly, kind: mode === 'Block' ? 'block' : 'dir', ...(mode === 'Block' ? { blockVolume: true } : {}) };
    if (await mountAt(target)) return prepared;
    // Recorded before anything is done, so teardown and the other pods' teardowns know.
    const record: PublishRecord = { driver: csi.driver, volumeHandle: csi.volumeHandle, mode, pvName: pv.metadata.name!, claimNamespace: claim.metadata.namespace!, claimName: claim.metadata.name! };
    await writeRecord(join(pluginMetaDir(ctx.podDir, CSI_PLUGIN, ctx.volume.name), STAGING_RECORD), record);
    return this.locks.run(csi.volumeHandle, async () => {
      const secrets = await this.o.nodeStageSecrets?.(pv);
      const req = { volumeId: csi.volumeHandle, stagingPath: staging, capability, volumeContext: csi.volumeAttributes ?? {}, ...(secrets ? { secrets } : {}) };
      await writeRecord(join(sdir, STAGING_RECORD), { driver: csi.driver, volumeHandle: csi.volumeHandle, mode } satisfies StagingRecord);
      await driver.node.nodeStageVolume(req);
      this.o.onStaged?.(`${claim.metadata.namespace}/${claim.metadata.name}`);
      await mkdir(dir, { recursive: true, mode: 0o750 });
      await driver.node.nodePublishVolume({ ...req, targetPath: target, readOnly });
      const fsGroup = ctx.fsGroup;
      if (mode === 'Filesystem' && fsGroup !== undefined && appliesFsGroup(pv, readOnly)) {
        const skip = ctx.pod.spec.securityContext?.fsGroupChangePolicy === 'OnRootMismatch' && (await ownershipDone(target, fsGroup));
        if (!skip) await setVolumeOwnership(target, fsGroup, readOnly, ctx.logger);
      }
      return prepared;
    });
  }

  /** Unpublishes the pod's volume, and unstages it when no other pod on the node uses it. */
  async teardown(ctx: VolumeTeardownContext): Promise<void> {
    const rec = await readJson<PublishRecord>(join(pluginMetaDir(ctx.podDir, CSI_PLUGIN, ctx.volumeName), STAGING_RECORD));
    if (!rec) return; // nothing was asked of a driver
    const driver = this.o.drivers.get(rec.driver);
    if (!driver) {
      ctx.logger({ level: 'warn', msg: 'CSI driver of a volume is not registered: leaving its staging to cleanup', driver: rec.driver, volume: rec.volumeHandle });
      return;
    }
    const target = rec.mode === 'Block' ? join(ctx.volumeDir, 'device') : ctx.volumeDir;
    await this.locks.run(rec.volumeHandle, async () => {
      await driver.node.nodeUnpublishVolume(rec.volumeHandle, target);
      await rm(join(pluginMetaDir(ctx.podDir, CSI_PLUGIN, ctx.volumeName), STAGING_RECORD), { force: true });
      if ((await this.published()).some((p) => p.driver === rec.driver && p.volumeHandle === rec.volumeHandle)) return;
      await this.unstage(driver, rec);
    });
  }

  /** Staged volumes no pod on this node publishes any more (an agent that died between the two): unstaged. */
  async cleanupStaged(): Promise<string[]> {
    const inUse = new Set((await this.published()).map((p) => `${p.driver}/${p.volumeHandle}`));
    const done: string[] = [];
    for (const driverName of await readdirOrEmpty(csiPluginsDir(this.o.dataDir))) {
      for (const hash of await readdirOrEmpty(join(csiPluginsDir(this.o.dataDir), driverName))) {
        const rec = await readJson<StagingRecord>(join(csiPluginsDir(this.o.dataDir), driverName, hash, STAGING_RECORD));
        const driver = rec && this.o.drivers.get(rec.driver);
        if (!rec || !driver || inUse.has(`${rec.driver}/${rec.volumeHandle}`)) continue;
        await this.locks.run(rec.volumeHandle, () => this.unstage(driver, rec));
        done.push(rec.volumeHandle);
      }
    }
    return done;
  }

  /** Every CSI volume some pod on this node publishes, from the pods' records. */
  async published(): Promise<PublishedVolume[]> {
    const out: PublishedVolume[] = [];
    for (const uid of await readdirOrEmpty(this.o.podsDir)) {
      const base = join(pluginsDir(join(this.o.podsDir, uid)), pluginDirName(CSI_PLUGIN));
      for (const vol of await readdirOrEmpty(base)) {
        const rec = await readJson<PublishRecord>(join(base, vol, STAGING_RECORD));
        if (rec) out.push({ ...rec, podUid: uid, stagingPath: stagingPathIn(stagingDir(this.o.dataDir, rec.driver, rec.volumeHandle), rec.mode) });
      }
    }
    return out;
  }

  private async unstage(driver: StorageDriver, rec: StagingRecord): Promise<void> {
    const sdir = stagingDir(this.o.dataDir, rec.driver, rec.volumeHandle);
    await driver.node.nodeUnstageVolume(rec.volumeHandle, stagingPathIn(sdir, rec.mode));
    // Never recursive: a staging dir that is somehow still mounted must not lose its data.
    await rm(join(sdir, STAGING_RECORD), { force: true });
    await rmdir(sdir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
