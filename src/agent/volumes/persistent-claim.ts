/**
 * persistentVolumeClaim volumes, as the kubelet resolves them: the claim must exist, not be
 * being deleted (unless this pod already uses it), and be bound; its PersistentVolume must be
 * bound to it. Then the PV's source decides: `csi` volumes are staged and published by their
 * driver (csi-volumes.ts), `hostPath` and `local` ones are paths of this node. Any other source
 * (nfs, rbd, ...) cannot be mounted by this node and says so.
 *
 * Read-only when the pod's volume says readOnly, the PV's csi source does, or the volume is
 * ReadOnlyMany only. Messages are the kubelet's.
 */
import { lstat } from 'node:fs/promises';
import type { KubeObject } from '../../util/object.js';
import { isClaimBound, pvcSpec, pvSpec } from '../../storage/api.js';
import { mountsUnder } from '../mount.js';
import { checkHostPathType } from './host-path.js';
import { CSI_PLUGIN, type CsiVolumes } from './csi-volumes.js';
import { volumeDir, type PreparedVolume, type VolumePlugin } from './plugin.js';

/** The claims and volumes the node sees (the agent's informer caches). */
export interface ClaimLookup {
  claim(namespace: string, name: string): KubeObject | undefined;
  volume(name: string): KubeObject | undefined;
}

const PV_SOURCES = ['csi', 'hostPath', 'local', 'nfs', 'rbd', 'cephfs', 'iscsi', 'fc', 'glusterfs', 'awsElasticBlockStore', 'gcePersistentDisk', 'azureDisk', 'azureFile', 'cinder', 'vsphereVolume', 'flexVolume'];

const blockMode = (pv: KubeObject) => (pvSpec(pv).volumeMode === 'Block' ? { blockVolume: true } : {});

export function persistentClaimPlugin(lookup: ClaimLookup, csi: CsiVolumes): VolumePlugin {
  return {
    name: CSI_PLUGIN,
    canSupport: (v) => !!v.persistentVolumeClaim,
    async setup(ctx): Promise<PreparedVolume> {
      const src = ctx.volume.persistentVolumeClaim!;
      const ns = ctx.pod.metadata.namespace!;
      const key = `${ns}/${src.claimName}`;
      const claim = lookup.claim(ns, src.claimName);
      if (!claim) throw new Error(`error processing PVC ${key}: failed to fetch PVC from API server: persistentvolumeclaims "${src.claimName}" not found`);
      // A pod already using the claim keeps it; a new one may not start on a claim being deleted.
      if (claim.metadata.deletionTimestamp && !(await mountsUnder(volumeDir(ctx.podDir, CSI_PLUGIN, ctx.volume.name))).length) throw new Error(`can't start pod because PVC ${key} is being deleted`);
      const phase = (claim.status as { phase?: string } | undefined)?.phase;
      if (!isClaimBound(claim) || phase !== 'Bound')
        throw new Error(`error processing PVC ${key}: PVC ${key} has non-bound phase ("${phase ?? ''}") or empty pvc.Spec.VolumeName ("${pvcSpec(claim).volumeName ?? ''}")`);
      const pvName = pvcSpec(claim).volumeName!;
      const pv = lookup.volume(pvName);
      if (!pv) throw new Error(`error processing PVC ${key}: failed to fetch PV "${pvName}" from API server: persistentvolumes "${pvName}" not found`);
      const ref = pvSpec(pv).claimRef;
      if (ref?.uid !== claim.metadata.uid) throw new Error(`error processing PVC ${key}: the volume "${pvName}" is not bound to this claim`);
      const s = pvSpec(pv);
      const modes = s.accessModes ?? [];
      const readOnly = !!src.readOnly || !!s.csi?.readOnly || (modes.length > 0 && modes.every((m) => m === 'ReadOnlyMany'));
      if (s.csi) return csi.setup(ctx, pv, claim, readOnly);
      if (s.hostPath) {
        await checkHostPathType(s.hostPath.path, s.hostPath.type ?? '');
        const st = await lstat(s.hostPath.path).catch(() => undefined);
        return { hostPath: s.hostPath.path, readOnly, kind: st?.isBlockDevice() ? 'block' : st && !st.isDirectory() ? 'file' : 'dir', ...blockMode(pv) };
      }
      if (s.local) {
        const st = await lstat(s.local.path).catch(() => undefined);
        if (!st) throw new Error(`path "${s.local.path}" does not exist`);
        return { hostPath: s.local.path, readOnly, kind: st.isDirectory() ? 'dir' : st.isBlockDevice() ? 'block' : 'file', ...blockMode(pv) };
      }
      const source = PV_SOURCES.find((k) => s[k] !== undefined) ?? 'unknown';
      throw new Error(`volume "${pvName}" has a ${source} source, which this node cannot mount`);
    },
    teardown: (ctx) => csi.teardown(ctx),
  };
}
