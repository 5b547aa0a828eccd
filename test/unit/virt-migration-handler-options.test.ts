// The node side of a live migration, its pure parts: QEMU capabilities and parameters from a
// MigrationConfiguration, KubeVirt's timeouts and failure reasons, the progress watermark, the
// target's port candidates, socat's argument vectors, the disks a migration copies, and what
// each node's VirtHandler does about a migrationState (and writes back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { copiedDiskIds, launchPlan } from '../../src/virt/handler/launch-plan.js';
import {
  completionTimeoutSeconds,
  EVENT,
  FAILURE,
  maxBandwidth,
  MigrationConfigError,
  ProgressWatermark,
  sourceCapabilities,
  sourceParameters,
  TARGET_PORT_BASE,
  TARGET_PORT_SPAN,
  targetCapabilities,
  targetPortCandidates,
  timeoutVerdict,
  UNLIMITED_BANDWIDTH,
} from '../../src/virt/handler/migration-options.js';
import { MigrationProxyError, tcpToUnixArgs, unixToTcpArgs } from '../../src/virt/handler/migration-proxy.js';
import { abortedBeforeStartFields, outcomeFields, sourceAction, sourceHandedOver, targetAction } from '../../src/virt/handler/migration-status.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { DEFAULT_MIGRATION_CONFIGURATION as DEF, type MigrationState } from '../../src/virt/migration/migration-state.js';

const on = (caps: { capability: string; state: boolean }[]) => caps.filter((c) => c.state).map((c) => c.capability).sort();

test('capabilities: events always; pause-before-switchover only when disks are copied; auto-converge and post-copy as allowed (post-copy on both sides)', () => {
  assert.deepEqual(on(sourceCapabilities(DEF, false)), ['events']);
  assert.deepEqual(on(sourceCapabilities(DEF, true)), ['events', 'pause-before-switchover']);
  assert.deepEqual(on(sourceCapabilities({ ...DEF, allowAutoConverge: true, allowPostCopy: true }, false)), ['auto-converge', 'events', 'postcopy-ram']);
  // Every capability is set either way, so a QEMU reused after a failed migration forgets nothing.
  assert.equal(sourceCapabilities(DEF, false).length, 4);
  assert.deepEqual(on(targetCapabilities(DEF)), ['events']);
  assert.deepEqual(on(targetCapabilities({ ...DEF, allowPostCopy: true })), ['events', 'postcopy-ram']);
});

test('parameters: downtime-limit = maxDowntimeMs; bandwidth from a quantity, "0" unlimited (QEMU would cap at 128 MiB/s)', () => {
  assert.deepEqual(sourceParameters(DEF), { 'downtime-limit': 100, 'max-bandwidth': UNLIMITED_BANDWIDTH });
  assert.deepEqual(sourceParameters({ ...DEF, bandwidthPerMigration: '64Mi', maxDowntimeMs: 300 }), { 'downtime-limit': 300, 'max-bandwidth': 64 * 2 ** 20 });
  assert.equal(maxBandwidth('1G'), 1e9);
  assert.ok(UNLIMITED_BANDWIDTH > 1e15 && Number.isSafeInteger(UNLIMITED_BANDWIDTH));
  assert.throws(() => maxBandwidth('fast'), MigrationConfigError);
  assert.throws(() => sourceParameters({ ...DEF, maxDowntimeMs: 0 }), MigrationConfigError);
});

test('timeouts: completion = completionTimeoutPerGiB × data counted in whole 10^9 bytes (rounded up); stuck before not-completed', () => {
  assert.equal(completionTimeoutSeconds(DEF, 128 * 2 ** 20, 0), 150);
  assert.equal(completionTimeoutSeconds(DEF, 2 * 2 ** 30, 0), 450); // 2.15e9 → 3
  assert.equal(completionTimeoutSeconds({ ...DEF, completionTimeoutPerGiB: 10 }, 1e9, 1), 20);
  assert.deepEqual(timeoutVerdict(DEF, { stuckForMs: 149_000, elapsedMs: 100_000, completionTimeoutS: 150 }), { kind: 'none' });
  assert.deepEqual(timeoutVerdict(DEF, { stuckForMs: 151_000, elapsedMs: 200_000, completionTimeoutS: 150 }), { kind: 'stuck', seconds: 151 });
  assert.deepEqual(timeoutVerdict(DEF, { stuckForMs: 1_000, elapsedMs: 150_001, completionTimeoutS: 150 }), { kind: 'notCompleted', seconds: 150 });
  assert.equal(FAILURE.stuck(151), 'Live migration stuck for 151 seconds and has been aborted');
  assert.equal(FAILURE.notCompleted(150), 'Live migration is not completed after 150 seconds and has been aborted');
});

test('progress watermark: only the remaining data dropping below its last value is progress', () => {
  const w = new ProgressWatermark(0);
  w.observe(1000, 1_000);
  assert.equal(w.stuckForMs(1_000), 0);
  w.observe(800, 2_000);
  w.observe(900, 5_000); // dirtied again: not progress
  assert.equal(w.stuckForMs(6_000), 4_000);
  w.observe(850, 7_000); // lower than the last value, though not the lowest: KubeVirt counts it
  assert.equal(w.stuckForMs(7_000), 0);
});

test('target ports: deterministic per migration and stream, in range, walking on from the first choice', () => {
  const a = targetPortCandidates('uid-1', 'memory');
  assert.deepEqual(a, targetPortCandidates('uid-1', 'memory'));
  assert.notDeepEqual(a, targetPortCandidates('uid-1', 'block'));
  assert.equal(a.length, 32);
  assert.ok(a.every((p) => p >= TARGET_PORT_BASE && p < TARGET_PORT_BASE + TARGET_PORT_SPAN));
  assert.equal(new Set(a).size, 32);
});

test('socat argument vectors: the target listens on the node address for the source node only, both ends give up on a silent peer, TLS checks the peer; bad input is refused', () => {
  const live = 'keepalive,keepidle=5,keepintvl=5,keepcnt=3,setsockopt-int=6:18:20000';
  assert.deepEqual(tcpToUnixArgs({ bind: '10.0.0.2', port: 50123, allowFrom: '10.0.0.1', toSocket: '/proc/42/root/var/run/kubevirt-private/migration-in.sock' }), [
    '-d', '-d', `TCP4-LISTEN:50123,bind=10.0.0.2,range=10.0.0.1/32,reuseaddr,fork,${live}`, 'UNIX-CONNECT:/proc/42/root/var/run/kubevirt-private/migration-in.sock',
  ]);
  assert.deepEqual(unixToTcpArgs({ socket: '/proc/7/root/var/run/kubevirt-private/migration-out.sock', host: '10.0.0.2', port: 50123 }), [
    '-d', '-d', 'UNIX-LISTEN:/proc/7/root/var/run/kubevirt-private/migration-out.sock,unlink-early,fork', `TCP4:10.0.0.2:50123,nodelay,connect-timeout=20,${live}`,
  ]);
  const tls = { certFile: '/d/tls/server.crt', keyFile: '/d/tls/server.key', caFile: '/d/tls/ca.crt', peerName: 'system:node:node-1' };
  assert.deepEqual(tcpToUnixArgs({ bind: '10.0.0.2', port: 50123, allowFrom: '10.0.0.1', toSocket: '/s/in.sock', tls }), [
    '-d', '-d', `OPENSSL-LISTEN:50123,bind=10.0.0.2,range=10.0.0.1/32,reuseaddr,fork,${live},cert=/d/tls/server.crt,key=/d/tls/server.key,cafile=/d/tls/ca.crt,verify=1,commonname=system\\:node\\:node-1,pf=ip4`, 'UNIX-CONNECT:/s/in.sock',
  ]);
  assert.deepEqual(unixToTcpArgs({ socket: '/s/out.sock', host: '10.0.0.2', port: 50123, tls: { ...tls, peerName: 'node-2' } }), [
    '-d', '-d', 'UNIX-LISTEN:/s/out.sock,unlink-early,fork', `OPENSSL:10.0.0.2:50123,nodelay,connect-timeout=20,${live},cert=/d/tls/server.crt,key=/d/tls/server.key,cafile=/d/tls/ca.crt,verify=1,commonname=node-2,pf=ip4`,
  ]);
  assert.throws(() => tcpToUnixArgs({ bind: '10.0.0.2', port: 50123, allowFrom: '10.0.0.1', toSocket: '/tmp/a,fork' }), MigrationProxyError);
  assert.throws(() => unixToTcpArgs({ socket: '/tmp/x.sock', host: 'evil:1', port: 1 }), MigrationProxyError);
  assert.throws(() => unixToTcpArgs({ socket: '/tmp/x.sock', host: '10.0.0.2', port: 70000 }), MigrationProxyError);
  assert.throws(() => unixToTcpArgs({ socket: '/tmp/x.sock', host: '10.0.0.2', port: 1, tls: { ...tls, peerName: 'node-2,verify=0' } }), MigrationProxyError);
  assert.throws(() => unixToTcpArgs({ socket: '/tmp/x.sock', host: '10.0.0.2', port: 1, tls: { ...tls, caFile: '/tmp/ca.crt,verify=0' } }), MigrationProxyError);
});

test('copied disks: writable emptyDisks and containerDisks, never claims, ISOs or read-only disks', () => {
  const vmi = {
    metadata: { name: 'web', namespace: 'prod', uid: '5b2cd1d2-8f7e-4a8e-9a43-1c1d7b7e0c11' },
    spec: {
      domain: { memory: { guest: '64Mi' }, devices: { disks: [{ name: 'root' }, { name: 'seed' }, { name: 'scratch' }, { name: 'data' }, { name: 'ro', disk: { readonly: true } }] } },
      volumes: [
        { name: 'root', containerDisk: { image: 'registry.local/guest:1' } },
        { name: 'seed', cloudInitNoCloud: { userData: '#!/bin/sh\n' } },
        { name: 'scratch', emptyDisk: { capacity: '1Gi' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'shared' } },
        { name: 'ro', containerDisk: { image: 'registry.local/tools:1' } },
      ],
    },
  } as unknown as Vmi;
  const pod = { metadata: { name: 'virt-launcher-web-x', namespace: 'prod', uid: 'p1' }, spec: { containers: [{ name: 'compute', image: 'x' }] } } as Pod;
  assert.deepEqual(copiedDiskIds(launchPlan(vmi, pod, 'tcg')), ['disk0', 'disk2']);
});

const state = (o: Partial<MigrationState> = {}): MigrationState => ({
  migrationUid: 'm1',
  sourceNode: 'node-1',
  sourcePod: 'virt-launcher-web-a',
  targetNode: 'node-2',
  targetPod: 'virt-launcher-web-b',
  migrationConfiguration: DEF,
  ...o,
});

test('target: prepares until the guest runs here; cleans up a failed migration; nothing once the VMI has moved', () => {
  assert.equal(targetAction(undefined, 'node-2', 'node-1'), 'none');
  assert.equal(targetAction(state(), 'node-3', 'node-1'), 'none');
  assert.equal(targetAction(state(), 'node-2', 'node-1'), 'prepare');
  assert.equal(targetAction(state({ targetNodeAddress: '10.0.0.2', completed: true, endTimestamp: 't' }), 'node-2', 'node-1'), 'prepare');
  assert.equal(targetAction(state({ targetNodeDomainReadyTimestamp: 't' }), 'node-2', 'node-1'), 'none');
  assert.equal(targetAction(state({ failed: true }), 'node-2', 'node-1'), 'cleanUp');
  assert.equal(targetAction(state({ targetNodeDomainReadyTimestamp: 't' }), 'node-2', 'node-2'), 'none');
});

test('source: migrates once the target published its address and ports; aborts; a late abort fails; hands over once moved', () => {
  const ready = { targetNodeAddress: '10.0.0.2', targetDirectMigrationNodePorts: { '50001': 49152 } };
  assert.equal(sourceAction(state(), 'node-1'), 'none');
  assert.equal(sourceAction(state(ready), 'node-2'), 'none');
  assert.equal(sourceAction(state(ready), 'node-1'), 'migrate');
  assert.equal(sourceAction(state({ ...ready, startTimestamp: 't', abortRequested: true }), 'node-1'), 'migrate');
  assert.equal(sourceAction(state({ abortRequested: true }), 'node-1'), 'abortBeforeStart');
  assert.equal(sourceAction(state({ ...ready, startTimestamp: 't', endTimestamp: 't', completed: true, abortRequested: true }), 'node-1'), 'abortTooLate');
  assert.equal(sourceAction(state({ ...ready, startTimestamp: 't', endTimestamp: 't', completed: true, abortRequested: true, abortStatus: 'Failed' }), 'node-1'), 'none');
  assert.equal(sourceHandedOver(state({ completed: true }), 'node-1', 'node-2'), true);
  assert.equal(sourceHandedOver(state({ completed: true }), 'node-1', 'node-1'), false);
  assert.equal(sourceHandedOver(state({ completed: true, failed: true }), 'node-1', 'node-2'), false);
});

test('status fields: completed; failed with KubeVirt reasons; aborted; abort status', () => {
  assert.deepEqual(outcomeFields({ result: 'completed', downtimeMs: 80, totalMs: 2000 }, false, 'T'), { completed: true, endTimestamp: 'T' });
  assert.deepEqual(outcomeFields({ result: 'completed' }, true, 'T'), { completed: true, endTimestamp: 'T', abortStatus: 'Failed' });
  assert.deepEqual(outcomeFields({ result: 'failed', reason: FAILURE.stuck(151), aborted: false }, false, 'T'), { completed: true, failed: true, failureReason: 'Live migration stuck for 151 seconds and has been aborted', endTimestamp: 'T' });
  assert.deepEqual(outcomeFields({ result: 'failed', reason: 'x', aborted: true }, true, 'T'), { completed: true, failed: true, failureReason: 'Live migration has been aborted', endTimestamp: 'T', abortStatus: 'Succeeded' });
  assert.deepEqual(abortedBeforeStartFields('T'), { completed: true, failed: true, failureReason: 'Live migration has been aborted', abortStatus: 'Succeeded', endTimestamp: 'T' });
  assert.equal(EVENT.migrated('node-2', 87, 2400), 'The VirtualMachineInstance migrated to node node-2. (downtime 87 ms, total 2400 ms)');
  assert.equal(EVENT.migrated('node-2'), 'The VirtualMachineInstance migrated to node node-2.');
});
