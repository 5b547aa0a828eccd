/**
 * kubevirt.io/v1 VirtualMachine, VirtualMachineInstance and VirtualMachineInstanceMigration, with
 * KubeVirt's names, short names, category `all`, printer columns and subresources (as its
 * virt-operator installs them: VMs and migrations have a status subresource, VMIs do not —
 * virt-handler writes a VMI whole). Template metadata is a free-form object, as in KubeVirt's
 * own schema, so labels and annotations on templates survive pruning.
 */
import { ageColumn, arr, bool, crd, dateTime, empty, int32, int64, mapOf, nullableTime, obj, quantity, str, stringMap, strings, type Schema } from '../../api/crd-builders.js';
import { dataVolumeSpec } from './cdi.js';
import { disk, hotplugVolumeSource, vmiSpec } from './vmi-spec.js';

export const KUBEVIRT_GROUP = 'kubevirt.io';
/** virt-operator labels every CRD it installs with its app label. */
export const KUBEVIRT_CRD_LABELS = { 'kubevirt.io': '' };

export const templateMetadata: Schema = { type: 'object', nullable: true, 'x-kubernetes-preserve-unknown-fields': true };
const condition = obj({ lastProbeTime: nullableTime, lastTransitionTime: nullableTime, message: str, reason: str, status: str, type: str }, ['type', 'status']);
const ready: { name: string; type: string; jsonPath: string } = { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" };

const matcher = obj({ inferFromVolume: str, inferFromVolumeFailurePolicy: str, kind: str, name: str, revisionName: str });

const pvcInfo = obj({
  accessModes: strings,
  capacity: mapOf(quantity),
  claimName: str,
  filesystemOverhead: str,
  preallocated: bool,
  requests: mapOf(quantity),
  volumeMode: str,
});
const migratedVolume = obj({ destinationPVCInfo: pvcInfo, sourcePVCInfo: pvcInfo, volumeName: str }, ['volumeName']);

const backupStatus = obj({
  backupMsg: str,
  backupName: str,
  checkpointName: str,
  completed: bool,
  endTimestamp: dateTime,
  failed: bool,
  quiesceStatus: str,
  startTimestamp: dateTime,
  volumes: arr(obj({ volumeName: str }, ['volumeName'])),
});
const changedBlockTracking = obj({ backupStatus, state: str }, ['state']);

export const vmStatus = obj({
  changedBlockTracking,
  conditions: arr(condition),
  created: bool,
  desiredGeneration: int64,
  instancetypeRef: obj({ controllerRevisionRef: obj({ name: str }), inferFromVolume: str, inferFromVolumeFailurePolicy: str, kind: str, name: str }),
  memoryDumpRequest: obj({ claimName: str, endTimestamp: dateTime, fileName: str, message: str, phase: str, remove: bool, startTimestamp: dateTime }, ['claimName', 'phase']),
  observedGeneration: int64,
  preferenceRef: obj({ controllerRevisionRef: obj({ name: str }), inferFromVolume: str, inferFromVolumeFailurePolicy: str, kind: str, name: str }),
  printableStatus: str,
  ready: bool,
  restoreInProgress: str,
  runStrategy: str,
  snapshotInProgress: str,
  startFailure: obj({ consecutiveFailCount: int32, lastFailedVMIUID: str, retryAfterTimestamp: dateTime }),
  stateChangeRequests: arr(obj({ action: str, data: stringMap, uid: str }, ['action'])),
  volumeRequests: arr(
    obj({
      addVolumeOptions: obj({ disk, dryRun: strings, name: str, volumeSource: hotplugVolumeSource }, ['name', 'disk', 'volumeSource']),
      removeVolumeOptions: obj({ dryRun: strings, name: str }, ['name']),
    }),
  ),
  volumeSnapshotStatuses: arr(obj({ enabled: bool, name: str, reason: str }, ['name', 'enabled'])),
  volumeUpdateState: obj({ volumeMigrationState: obj({ migratedVolumes: arr(migratedVolume) }) }),
});

export const vmSpec = obj(
  {
    dataVolumeTemplates: arr(obj({ apiVersion: str, kind: str, metadata: templateMetadata, spec: dataVolumeSpec, status: empty }, ['spec'])),
    instancetype: matcher,
    preference: matcher,
    runStrategy: str,
    running: bool,
    template: obj({ metadata: templateMetadata, spec: vmiSpec }),
    updateVolumesStrategy: str,
  },
  ['template'],
);

const migrationConfiguration = obj({
  allowAutoConverge: bool,
  allowPostCopy: bool,
  allowWorkloadDisruption: bool,
  bandwidthPerMigration: quantity,
  completionTimeoutPerGiB: int64,
  disableTLS: bool,
  experimental: obj({
    compression: str,
    downtimeTuning: obj({ cooldownSeconds: int32, initialMs: int64, startAfterIteration: int64, steps: int32 }),
    stallDetector: obj({
      completionTimeoutFactor: quantity,
      ewmaAlpha: quantity,
      patienceWindowDecayFactor: quantity,
      precopyPossibleFactor: quantity,
      searchLocalMinima: bool,
      stallMargin: int64,
      stallProgressTimeout: int64,
      switchoverTimeout: int64,
    }),
  }),
  matchSELinuxLevelOnMigration: bool,
  maxDowntimeMs: int64,
  network: str,
  nodeDrainTaintKey: str,
  parallelMigrationsPerCluster: int64,
  parallelOutboundMigrationsPerNode: int64,
  progressTimeout: int64,
  unsafeMigrationOverride: bool,
  utilityVolumesTimeout: int64,
});

const migrationEndpoint = {
  domainName: str,
  domainNamespace: str,
  migrationUID: str,
  node: str,
  persistentStatePVCName: str,
  pod: str,
  selinuxContext: str,
  syncAddress: str,
  virtualMachineInstanceUID: str,
};

const migrationState = obj({
  abortRequested: bool,
  abortStatus: str,
  completed: bool,
  endTimestamp: dateTime,
  failed: bool,
  failureReason: str,
  migrationConfiguration,
  migrationNetworkType: str,
  migrationPolicyName: str,
  migrationUid: str,
  mode: str,
  sourceNode: str,
  sourcePersistentStatePVCName: str,
  sourcePod: str,
  sourceState: obj({ ...migrationEndpoint, nodeSelectors: stringMap }),
  startTimestamp: dateTime,
  targetAttachmentPodUID: str,
  targetCPUSet: arr(int32),
  targetDirectMigrationNodePorts: mapOf(int32),
  targetMemoryOverhead: quantity,
  targetNode: str,
  targetNodeAddress: str,
  targetNodeDomainDetected: bool,
  targetNodeDomainReadyTimestamp: dateTime,
  targetNodeTopology: str,
  targetPersistentStatePVCName: str,
  targetPod: str,
  targetState: obj({
    ...migrationEndpoint,
    attachmentPodUID: str,
    cpuSet: arr(int32),
    directMigrationNodePorts: mapOf(int32),
    domainDetected: bool,
    domainReadyTimestamp: dateTime,
    nodeAddress: str,
    nodeTopology: str,
  }),
});

const phaseTransition = obj({ phase: str, phaseTransitionTimestamp: dateTime });

const vmiStatus = obj({
  VSOCKCID: int64,
  activePods: stringMap,
  changedBlockTracking,
  conditions: arr(condition),
  currentCPUTopology: obj({ cores: int64, sockets: int64, threads: int64 }),
  evacuationNodeName: str,
  fsFreezeStatus: str,
  guestOSInfo: obj({ id: str, kernelRelease: str, kernelVersion: str, machine: str, name: str, prettyName: str, version: str, versionId: str }),
  interfaces: arr(
    obj({ infoSource: str, interfaceName: str, ipAddress: str, ipAddresses: strings, linkState: str, mac: str, name: str, podInterfaceName: str, queueCount: int32 }),
  ),
  kernelBootStatus: obj({ initrdInfo: obj({ checksum: int64 }), kernelInfo: obj({ checksum: int64 }) }),
  launcherContainerImageVersion: str,
  machine: obj({ type: str }),
  memory: obj({ guestAtBoot: quantity, guestCurrent: quantity, guestRequested: quantity, memoryOverhead: quantity }),
  migratedVolumes: arr(migratedVolume),
  migrationMethod: str,
  migrationState,
  migrationTransport: str,
  nodeName: str,
  phase: str,
  phaseTransitionTimestamps: arr(phaseTransition),
  qosClass: str,
  reason: str,
  runtimeUser: int64,
  selinuxContext: str,
  topologyHints: obj({ tscFrequency: int64 }),
  virtualMachineRevisionName: str,
  volumeStatus: arr(
    obj(
      {
        containerDiskVolume: obj({ checksum: int64 }),
        hotplugVolume: obj({ attachPodName: str, attachPodUID: str }),
        memoryDumpVolume: obj({ claimName: str, endTimestamp: dateTime, startTimestamp: dateTime, targetFileName: str }),
        message: str,
        name: str,
        persistentVolumeClaimInfo: pvcInfo,
        phase: str,
        reason: str,
        size: int64,
        target: str,
      },
      ['name', 'target'],
    ),
  ),
});

export const VIRTUAL_MACHINE_CRD = crd({
  group: KUBEVIRT_GROUP,
  version: 'v1',
  kind: 'VirtualMachine',
  plural: 'virtualmachines',
  scope: 'Namespaced',
  shortNames: ['vm', 'vms'],
  categories: ['all'],
  columns: [ageColumn, { name: 'Status', type: 'string', jsonPath: '.status.printableStatus', description: 'Human Readable Status' }, ready],
  schema: { spec: vmSpec, status: vmStatus },
  required: ['spec'],
  status: true,
  labels: KUBEVIRT_CRD_LABELS,
});

export const VIRTUAL_MACHINE_INSTANCE_CRD = crd({
  group: KUBEVIRT_GROUP,
  version: 'v1',
  kind: 'VirtualMachineInstance',
  plural: 'virtualmachineinstances',
  scope: 'Namespaced',
  shortNames: ['vmi', 'vmis'],
  categories: ['all'],
  columns: [
    ageColumn,
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress' },
    { name: 'NodeName', type: 'string', jsonPath: '.status.nodeName' },
    ready,
    { name: 'Live-Migratable', type: 'string', jsonPath: ".status.conditions[?(@.type=='LiveMigratable')].status", priority: 1 },
    { name: 'Paused', type: 'string', jsonPath: ".status.conditions[?(@.type=='Paused')].status", priority: 1 },
  ],
  schema: { spec: vmiSpec, status: vmiStatus },
  required: ['spec'],
  status: false,
  labels: KUBEVIRT_CRD_LABELS,
});

export const VIRTUAL_MACHINE_INSTANCE_MIGRATION_CRD = crd({
  group: KUBEVIRT_GROUP,
  version: 'v1',
  kind: 'VirtualMachineInstanceMigration',
  plural: 'virtualmachineinstancemigrations',
  scope: 'Namespaced',
  shortNames: ['vmim', 'vmims'],
  categories: ['all'],
  columns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'The current phase of VM instance migration' },
    { name: 'VMI', type: 'string', jsonPath: '.spec.vmiName', description: 'The name of the VMI to perform the migration on' },
  ],
  schema: {
    spec: obj({
      addedNodeSelector: stringMap,
      priority: str,
      receive: obj({ migrationID: str }, ['migrationID']),
      sendTo: obj({ connectURL: str, migrationID: str }, ['migrationID', 'connectURL']),
      vmiName: str,
    }),
    status: obj({
      conditions: arr(condition),
      migrationState,
      phase: str,
      phaseTransitionTimestamps: arr(phaseTransition),
      synchronizationAddresses: strings,
    }),
  },
  required: ['spec'],
  status: true,
  labels: KUBEVIRT_CRD_LABELS,
});
