// The migration's target launcher pod, the parallel limits, the VMI fields the migration
// controller writes, and how the VMI controller follows a migration (its current pod, its phase
// when the source launcher ends, activePods).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { DEFAULT_MIGRATION_CONFIGURATION, type MigrationPhase, type VirtualMachineInstanceMigration } from '../../src/virt/migration/migration-state.js';
import { migrationTargetPod } from '../../src/virt/controllers/migration-target-pod.js';
import { parallelLimitReached } from '../../src/virt/controllers/migration-limits.js';
import { migrationsToCollect } from '../../src/virt/controllers/migration-gc.js';
import { handOff, markFailed, migrationMethodOf, moveToTarget, requestAbort } from '../../src/virt/controllers/migration-vmi.js';
import { currentPod, nextVmi } from '../../src/virt/controllers/vmi-status.js';

function vmi(extra: Partial<Vmi['spec']> = {}, status: Vmi['status'] = { phase: 'Running', nodeName: 'node-1' }): Vmi {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'v', namespace: 'ns', uid: 'vmi-uid', labels: { app: 'db', 'kubevirt.io/nodeName': 'node-1' } },
    spec: { domain: { devices: {}, resources: { requests: { memory: '64Mi' } } }, nodeSelector: { disk: 'ssd' }, ...extra },
    status,
  };
}
const vmim = (uid: string, phase?: MigrationPhase, vmiName = 'v'): VirtualMachineInstanceMigration => ({ metadata: { name: `m-${uid}`, namespace: 'ns', uid }, spec: { vmiName, addedNodeSelector: { zone: 'b', disk: 'hdd' } }, status: phase ? { phase } : {} });
const running = { phase: 'Running', containerStatuses: [{ name: 'compute', state: { running: {} } }] };
function pod(name: string, node: string, status: Record<string, unknown> = running, created = '2026-01-01T00:00:00Z'): KubeObject {
  return { metadata: { name, namespace: 'ns', uid: `${name}-uid`, creationTimestamp: created }, spec: { nodeName: node, containers: [{ name: 'compute', image: 'img' }] }, status };
}
const source = pod('virt-launcher-v-src', 'node-1', { ...running, podIP: '10.244.1.5' });

test('the target pod: the launcher pod plus the migration label and name, anti-affinity to the VMI\'s pods per host, added node selector, the source IP to take', () => {
  const p = migrationTargetPod(vmi(), vmim('mig-uid'), source, () => undefined).pod;
  assert.equal(p.metadata.generateName, 'virt-launcher-v-');
  assert.equal(p.metadata.labels?.['kubevirt.io/migrationJobUID'], 'mig-uid');
  assert.equal(p.metadata.labels?.['kubevirt.io/created-by'], 'vmi-uid');
  assert.equal(p.metadata.labels?.app, 'db');
  assert.equal(p.metadata.annotations?.['kubevirt.io/migrationJobName'], 'm-mig-uid');
  assert.equal(p.metadata.annotations?.['cairn.io/pod-ip-handoff'], '10.244.1.5');
  assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'v', uid: 'vmi-uid', controller: true, blockOwnerDeletion: true }]);
  const spec = p.spec as { nodeSelector: Record<string, string>; affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: unknown[] } } };
  // The VMI's own selector wins over the added one (KubeVirt copies it last).
  assert.deepEqual(spec.nodeSelector, { zone: 'b', disk: 'ssd', 'kubevirt.io/schedulable': 'true' });
  assert.deepEqual(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, [{ labelSelector: { matchLabels: { 'kubevirt.io/created-by': 'vmi-uid' } }, topologyKey: 'kubernetes.io/hostname' }]);
  // The VMI's own affinity terms are kept.
  const withAffinity = vmi({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'zone' }] } } });
  const p2 = migrationTargetPod(withAffinity, vmim('mig-uid'), source, () => undefined).pod.spec as typeof spec;
  assert.equal(p2.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.length, 2);
  assert.equal((withAffinity.spec.affinity as typeof spec.affinity).podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.length, 1, 'the VMI is not changed');
  // Post-copy needs userfaultfd in the target's QEMU: only then CAP_SYS_PTRACE.
  const computeOf = (q: KubeObject) => (q.spec as { containers: { name: string; securityContext?: unknown }[] }).containers.find((c) => c.name === 'compute')!;
  assert.equal(computeOf(p).securityContext, undefined);
  assert.deepEqual(computeOf(migrationTargetPod(vmi(), vmim('mig-uid'), source, () => undefined, { allowPostCopy: true }).pod).securityContext, { capabilities: { add: ['SYS_PTRACE'] } });
});

test('parallel limits: 5 in flight in the cluster, 2 outbound per node; Pending without a target pod does not count', () => {
  const vmis = new Map<string, Vmi>();
  const onNode = (name: string, node: string) => vmis.set(name, { ...vmi(), metadata: { ...vmi().metadata, name }, status: { phase: 'Running', nodeName: node } });
  const inFlight = (n: number, node: string, phase: MigrationPhase = 'Running') => Array.from({ length: n }, (_, i) => {
    const name = `${node}-${phase}-${i}`;
    onNode(name, node);
    return vmim(name, phase, name);
  });
  const view = (migrations: VirtualMachineInstanceMigration[], withPod = new Set<string>()) => ({ migrations, vmiOf: (m: VirtualMachineInstanceMigration) => vmis.get(m.spec.vmiName), hasTargetPod: (m: VirtualMachineInstanceMigration) => withPod.has(m.metadata.uid!) });
  const candidate = vmim('new', 'Pending');
  const cfg = DEFAULT_MIGRATION_CONFIGURATION;
  assert.equal(parallelLimitReached(candidate, 'node-1', view(inFlight(1, 'node-1')), cfg), undefined);
  assert.match(parallelLimitReached(candidate, 'node-1', view(inFlight(2, 'node-1')), cfg)!, /outbound migrations per node limit/);
  assert.equal(parallelLimitReached(candidate, 'node-1', view([...inFlight(1, 'node-1'), ...inFlight(3, 'node-2')]), cfg), undefined);
  assert.match(parallelLimitReached(candidate, 'node-1', view([...inFlight(2, 'node-2'), ...inFlight(2, 'node-3'), ...inFlight(1, 'node-4')]), cfg)!, /global cluster limit/);
  const pending = inFlight(5, 'node-2', 'Pending');
  assert.equal(parallelLimitReached(candidate, 'node-1', view([...pending, ...inFlight(2, 'node-3', 'Succeeded')]), cfg), undefined);
  assert.match(parallelLimitReached(candidate, 'node-1', view(pending, new Set(pending.map((m) => m.metadata.uid!))), cfg)!, /global cluster limit/);
});

test('the VMI fields: hand-off, abort, the move to the target, the failure before the start', () => {
  const target = pod('virt-launcher-v-tgt', 'node-2');
  const h = handOff(vmi(), { migrationUid: 'mig-uid', sourcePod: source, targetPod: target, configuration: DEFAULT_MIGRATION_CONFIGURATION, policyName: 'slow' });
  assert.deepEqual(h.status?.migrationState, { migrationUid: 'mig-uid', sourceNode: 'node-1', sourcePod: 'virt-launcher-v-src', targetNode: 'node-2', targetPod: 'virt-launcher-v-tgt', migrationConfiguration: DEFAULT_MIGRATION_CONFIGURATION, migrationPolicyName: 'slow' });
  assert.equal(h.metadata.labels?.['kubevirt.io/migrationTargetNodeName'], 'node-2');
  assert.equal(requestAbort(h).status?.migrationState?.abortRequested, true);
  const done = { ...h, status: { ...h.status, evacuationNodeName: 'node-1', activePods: { 'virt-launcher-v-src-uid': 'node-1' }, migrationState: { ...h.status!.migrationState, completed: true, targetNodeDomainReadyTimestamp: 'x' } } } as Vmi;
  const moved = moveToTarget(done, target);
  assert.equal(moved.status?.nodeName, 'node-2');
  assert.equal(moved.metadata.labels?.['kubevirt.io/nodeName'], 'node-2');
  assert.equal(moved.metadata.labels?.['kubevirt.io/migrationTargetNodeName'], undefined);
  assert.equal(moved.status?.evacuationNodeName, undefined);
  assert.deepEqual(moved.status?.activePods, { 'virt-launcher-v-src-uid': 'node-1', 'virt-launcher-v-tgt-uid': 'node-2' });
  assert.equal(moved.status?.migrationMethod, 'LiveMigration');
  const failed = markFailed(h, '2026-01-01T00:00:00Z').status?.migrationState;
  assert.deepEqual([failed?.failed, failed?.completed, failed?.failureReason, failed?.endTimestamp], [true, true, 'Target pod is down', '2026-01-01T00:00:00Z']);
});

test('migration method: BlockMigration for local writable disks (containerDisk, emptyDisk, cloud-init), LiveMigration for claims and read-only disks', () => {
  assert.equal(migrationMethodOf(vmi({ volumes: [{ name: 'root', persistentVolumeClaim: { claimName: 'c' } }, { name: 'dv', dataVolume: { name: 'd' } }] })), 'LiveMigration');
  assert.equal(migrationMethodOf(vmi({ volumes: [{ name: 'root', containerDisk: { image: 'x' } }] })), 'BlockMigration');
  assert.equal(migrationMethodOf(vmi({ volumes: [{ name: 'scratch', emptyDisk: { capacity: '1Gi' } }] })), 'BlockMigration');
  const cdrom = vmi({ domain: { devices: { disks: [{ name: 'ci', cdrom: {} }] } }, volumes: [{ name: 'ci', cloudInitNoCloud: { userData: 'x' } }] });
  assert.equal(migrationMethodOf(cdrom), 'LiveMigration');
});

test('the VMI controller follows a migration: the source stays current, both pods are active, the source ending after the hand-over is not the guest ending', () => {
  const target = pod('virt-launcher-v-tgt', 'node-2', running, '2026-01-01T00:05:00Z');
  const migrating = vmi({}, { phase: 'Running', nodeName: 'node-1', migrationState: { migrationUid: 'm', targetPod: target.metadata.name, targetNode: 'node-2' } });
  assert.equal(currentPod(migrating, [source, target]), source, 'the newer target pod is on another node');
  const input = (p: KubeObject | undefined, owned: KubeObject[]) => ({ pod: p, ownedPods: owned, volumes: { ready: true, waitForFirstConsumer: false, dataVolumes: [] }, hasOwnerVm: false, now: '2026-01-01T00:06:00Z' });
  const next = nextVmi(migrating, input(source, [source, target]));
  assert.equal(next.status?.phase, 'Running');
  assert.deepEqual(next.status?.activePods, { 'virt-launcher-v-src-uid': 'node-1', 'virt-launcher-v-tgt-uid': 'node-2' });
  // The source sent everything but the target has not taken the guest in: the source stays current
  // (a target that then fails to load the guest must not end the VMI).
  const sent = vmi({}, { phase: 'Running', nodeName: 'node-1', migrationState: { migrationUid: 'm', targetPod: target.metadata.name, targetNode: 'node-2', completed: true } });
  assert.equal(currentPod(sent, [source, target]), source);
  // Handed over (the guest runs on the target), nodeName not moved yet, the source launcher has exited 0.
  const sourceDone = pod('virt-launcher-v-src', 'node-1', { phase: 'Succeeded', containerStatuses: [{ name: 'compute', state: { terminated: { exitCode: 0 } } }] });
  const handedOver = vmi({}, { phase: 'Running', nodeName: 'node-1', migrationState: { migrationUid: 'm', targetPod: target.metadata.name, targetNode: 'node-2', completed: true, targetNodeDomainReadyTimestamp: '2026-01-01T00:06:00Z' } });
  const cur = currentPod(handedOver, [sourceDone, target]);
  assert.equal(cur, target);
  assert.equal(nextVmi(handedOver, input(cur, [sourceDone, target])).status?.phase, 'Running');
  // After the move the target is current by its node, and a failed migration leaves the source current.
  const moved = vmi({}, { phase: 'Running', nodeName: 'node-2', migrationState: { migrationUid: 'm', targetPod: target.metadata.name, completed: true } });
  assert.equal(currentPod(moved, [sourceDone, target]), target);
  assert.equal(nextVmi(moved, input(target, [sourceDone, target])).status?.phase, 'Running');
  const failed = vmi({}, { phase: 'Running', nodeName: 'node-1', migrationState: { migrationUid: 'm', targetPod: target.metadata.name, completed: true, failed: true } });
  assert.equal(currentPod(failed, [source, target]), source);
});

test('garbage collection: a VMI keeps its 5 newest ended migrations; older ones go with the pod each left behind', () => {
  const ended = (i: number, state: Record<string, unknown>, phase: MigrationPhase = 'Succeeded'): VirtualMachineInstanceMigration => ({
    metadata: { name: `m${i}`, namespace: 'ns', uid: `u${i}`, creationTimestamp: `2026-01-01T00:0${i}:00Z` },
    spec: { vmiName: 'v' },
    status: { phase, migrationState: state as never },
  });
  const all = [
    ended(1, { completed: true, sourcePod: 'src-1', targetPod: 'tgt-1' }),
    ended(2, { completed: true, failed: true, sourcePod: 'src-2', targetPod: 'tgt-2' }, 'Failed'),
    ...[3, 4, 5, 6, 7].map((i) => ended(i, { completed: true, sourcePod: `src-${i}` })),
    vmim('running', 'Running'),
  ];
  assert.deepEqual(
    migrationsToCollect(all).map((c) => [c.migration.metadata.name, c.defunctPod]),
    [
      ['m1', 'src-1'],
      ['m2', 'tgt-2'],
    ],
  );
  assert.deepEqual(migrationsToCollect(all.slice(2)), []);
});
