/**
 * The storage sidecars of the cluster-scoped drivers (the Ceph drivers), run once for the cluster
 * by the controller manager, as upstream runs external-provisioner, external-resizer and
 * csi-snapshotter beside a networked CSI driver's controller: claims of their classes are
 * provisioned and deleted, expansions done on the backend (the node step stays with the agent
 * that has the volume staged), and VolumeSnapshotContents of their drivers taken and removed.
 * Node-scoped drivers (`cairn.io/local`) run theirs in each node agent (node-storage.ts).
 */
import type { RunningController } from '../client/index.js';
import type { ControllerSpec } from '../controllers/context.js';
import { cephDrivers } from './ceph/ceph-drivers.js';
import { ClaimProvisioner } from './provisioner.js';
import { VolumeResizer } from './resizer.js';
import { Snapshotter } from './snapshotter.js';

export const clusterStorageController: ControllerSpec = {
  name: 'cluster-storage',
  start(ctx) {
    const running: RunningController[] = [];
    for (const driver of cephDrivers()) {
      const common = { client: ctx.client, informers: ctx.informers, logger: ctx.logger, driver };
      running.push(new ClaimProvisioner({ ...common, recorder: ctx.recorder(driver.provisioner) }).start(ctx.signal));
      const recorder = ctx.recorder(`external-resizer ${driver.name}`);
      running.push(new VolumeResizer({ ...common, recorder, kubeletRecorder: recorder, steps: 'controller' }).start(ctx.signal));
      running.push(new Snapshotter({ ...common, recorder: ctx.recorder(`csi-snapshotter ${driver.name}`) }).start(ctx.signal));
    }
    return running;
  },
};
