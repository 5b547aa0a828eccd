/**
 * KubeVirt's own OpenAPI document (../shared/reference/kubevirt/swagger.json, v1.9.0-beta.0) as
 * the oracle for Cairn's virtualization CRDs: every field Cairn's schemas declare must exist at
 * the same path in KubeVirt's definition of the kind, with the same JSON type, and the fields
 * issue 8 relies on must be there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { JSONSchema } from '../../src/schema/types.js';
import type { KubeObject } from '../../src/util/object.js';
import { VIRT_CRDS } from '../../src/virt/api/crds.js';

interface SwaggerSchema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  properties?: Record<string, SwaggerSchema>;
  items?: SwaggerSchema;
  additionalProperties?: SwaggerSchema | boolean;
}

const SWAGGER = new URL('../../../../shared/reference/kubevirt/swagger.json', import.meta.url);
const definitions = (JSON.parse(readFileSync(SWAGGER, 'utf8')) as { definitions: Record<string, SwaggerSchema> }).definitions;

/** The swagger definition each served kind is checked against (DataVolume's status is CDI's, not in KubeVirt's document). */
const ORACLE: Record<string, { def: string; only?: string }> = {
  VirtualMachine: { def: 'v1.VirtualMachine' },
  VirtualMachineInstance: { def: 'v1.VirtualMachineInstance' },
  VirtualMachineInstanceMigration: { def: 'v1.VirtualMachineInstanceMigration' },
  MigrationPolicy: { def: 'v1alpha1.MigrationPolicy' },
  KubeVirt: { def: 'v1.KubeVirt' },
  VirtualMachineInstancetype: { def: 'v1beta1.VirtualMachineInstancetype' },
  VirtualMachineClusterInstancetype: { def: 'v1beta1.VirtualMachineClusterInstancetype' },
  VirtualMachinePreference: { def: 'v1beta1.VirtualMachinePreference' },
  VirtualMachineClusterPreference: { def: 'v1beta1.VirtualMachineClusterPreference' },
  VirtualMachineSnapshot: { def: 'v1beta1.VirtualMachineSnapshot' },
  VirtualMachineSnapshotContent: { def: 'v1beta1.VirtualMachineSnapshotContent' },
  VirtualMachineRestore: { def: 'v1beta1.VirtualMachineRestore' },
  VirtualMachineClone: { def: 'v1beta1.VirtualMachineClone' },
  DataVolume: { def: 'v1beta1.DataVolumeSpec', only: 'spec' },
};
/** Kinds KubeVirt's document does not describe at all. */
const NOT_IN_SWAGGER = ['NetworkAttachmentDefinition'];

function deref(s: SwaggerSchema): SwaggerSchema {
  let cur = s;
  for (let i = 0; cur.$ref && i < 16; i++) {
    const name = cur.$ref.replace('#/definitions/', '');
    const next = definitions[name];
    if (!next) throw new Error(`swagger: unresolved ${cur.$ref}`);
    cur = next;
  }
  return cur;
}

/** A JSON type name both sides can be compared by: int-or-string for IntOrString and Quantity. */
function swaggerType(s: SwaggerSchema): string {
  if (Array.isArray(s.type)) {
    const t = s.type.filter((x) => x !== 'null');
    if (t.length === 1) return t[0];
    if (t.includes('string') && (t.includes('integer') || t.includes('number'))) return 'int-or-string';
    return t.join('|');
  }
  if (s.format === 'int-or-string') return 'int-or-string';
  return s.type ?? (s.properties ? 'object' : 'untyped');
}

function cairnType(s: JSONSchema): string {
  if (s['x-kubernetes-int-or-string']) return 'int-or-string';
  return s.type ?? 'untyped';
}

/** Differences between Cairn's schema and KubeVirt's, as `path: problem` lines. */
function compare(cairn: JSONSchema, kubevirt: SwaggerSchema, path: string, out: string[]): void {
  const sw = deref(kubevirt);
  const [ct, st] = [cairnType(cairn), swaggerType(sw)];
  if (ct !== st) return void out.push(`${path}: Cairn has ${ct}, KubeVirt ${st}`);
  if (ct === 'integer' && cairn.format !== sw.format) out.push(`${path}: Cairn has format ${cairn.format}, KubeVirt ${sw.format}`);
  for (const [k, sub] of Object.entries(cairn.properties ?? {})) {
    const other = sw.properties?.[k];
    if (!other) out.push(`${path}.${k}: not in KubeVirt's schema`);
    else compare(sub, other, `${path}.${k}`, out);
  }
  if (cairn.items) {
    if (!sw.items) out.push(`${path}[]: KubeVirt has no items`);
    else compare(cairn.items, sw.items, `${path}[]`, out);
  }
  if (cairn.additionalProperties && typeof cairn.additionalProperties === 'object') {
    if (typeof sw.additionalProperties !== 'object') out.push(`${path}{}: KubeVirt has no additionalProperties`);
    else compare(cairn.additionalProperties, sw.additionalProperties, `${path}{}`, out);
  }
}

const schemaOf = (c: KubeObject) => (c.spec as { versions: { schema: { openAPIV3Schema: JSONSchema } }[] }).versions[0].schema.openAPIV3Schema;
const kindOf = (c: KubeObject) => (c.spec as { names: { kind: string } }).names.kind;

function differences(kind: string, schema: JSONSchema): string[] {
  const oracle = ORACLE[kind];
  const out: string[] = [];
  if (oracle.only) compare(schema.properties![oracle.only], definitions[oracle.def], `${kind}.${oracle.only}`, out);
  else compare(schema, definitions[oracle.def], kind, out);
  return out;
}

/** Whether `path` (`spec.template.spec.volumes[].cloudInitNoCloud.userData`) is declared in `schema`. */
function declares(schema: JSONSchema, path: string): boolean {
  let cur: JSONSchema | undefined = schema;
  for (const part of path.split('.')) {
    const array = part.endsWith('[]');
    cur = cur?.properties?.[array ? part.slice(0, -2) : part];
    if (array) cur = cur?.items;
  }
  return cur !== undefined;
}

/** The fields issue 8 names, by kind. */
const IMPORTANT: Record<string, string[]> = {
  VirtualMachine: [
    'spec.runStrategy',
    'spec.running',
    'spec.instancetype.name',
    'spec.instancetype.kind',
    'spec.preference.name',
    'spec.dataVolumeTemplates[].metadata',
    'spec.dataVolumeTemplates[].spec.source.http.url',
    'spec.dataVolumeTemplates[].spec.source.registry.url',
    'spec.dataVolumeTemplates[].spec.source.pvc.name',
    'spec.dataVolumeTemplates[].spec.source.blank',
    'spec.dataVolumeTemplates[].spec.source.upload',
    'spec.dataVolumeTemplates[].spec.storage.resources.requests',
    'spec.dataVolumeTemplates[].spec.pvc.accessModes',
    'spec.template.metadata',
    'spec.template.spec.domain.cpu.cores',
    'spec.template.spec.domain.cpu.sockets',
    'spec.template.spec.domain.cpu.threads',
    'spec.template.spec.domain.memory.guest',
    'spec.template.spec.domain.resources.requests',
    'spec.template.spec.domain.resources.overcommitGuestOverhead',
    'spec.template.spec.domain.firmware.bootloader.efi.secureBoot',
    'spec.template.spec.domain.firmware.uuid',
    'spec.template.spec.domain.features.acpi.enabled',
    'spec.template.spec.domain.machine.type',
    'spec.template.spec.domain.devices.disks[].name',
    'spec.template.spec.domain.devices.disks[].disk.bus',
    'spec.template.spec.domain.devices.disks[].cdrom.bus',
    'spec.template.spec.domain.devices.disks[].bootOrder',
    'spec.template.spec.domain.devices.interfaces[].name',
    'spec.template.spec.domain.devices.interfaces[].masquerade',
    'spec.template.spec.domain.devices.interfaces[].bridge',
    'spec.template.spec.domain.devices.interfaces[].macAddress',
    'spec.template.spec.domain.devices.interfaces[].model',
    'spec.template.spec.domain.devices.interfaces[].ports[].port',
    'spec.template.spec.domain.devices.autoattachSerialConsole',
    'spec.template.spec.domain.devices.autoattachGraphicsDevice',
    'spec.template.spec.domain.devices.rng',
    'spec.template.spec.volumes[].name',
    'spec.template.spec.volumes[].containerDisk.image',
    'spec.template.spec.volumes[].persistentVolumeClaim.claimName',
    'spec.template.spec.volumes[].dataVolume.name',
    'spec.template.spec.volumes[].emptyDisk.capacity',
    'spec.template.spec.volumes[].ephemeral.persistentVolumeClaim.claimName',
    'spec.template.spec.volumes[].cloudInitNoCloud.userData',
    'spec.template.spec.volumes[].cloudInitNoCloud.userDataBase64',
    'spec.template.spec.volumes[].cloudInitNoCloud.secretRef.name',
    'spec.template.spec.volumes[].cloudInitNoCloud.networkData',
    'spec.template.spec.volumes[].cloudInitConfigDrive.userData',
    'spec.template.spec.volumes[].configMap.name',
    'spec.template.spec.volumes[].secret.secretName',
    'spec.template.spec.volumes[].serviceAccount.serviceAccountName',
    'spec.template.spec.networks[].name',
    'spec.template.spec.networks[].pod',
    'spec.template.spec.networks[].multus.networkName',
    'spec.template.spec.evictionStrategy',
    'spec.template.spec.terminationGracePeriodSeconds',
    'spec.template.spec.nodeSelector',
    'spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[].matchExpressions[].key',
    'spec.template.spec.tolerations[].key',
    'spec.template.spec.hostname',
    'status.printableStatus',
    'status.conditions[].type',
    'status.conditions[].status',
    'status.ready',
    'status.created',
    'status.runStrategy',
    'status.stateChangeRequests[].action',
  ],
  VirtualMachineInstance: [
    'spec.domain.devices.disks[].disk.bus',
    'spec.volumes[].cloudInitNoCloud.userData',
    'status.phase',
    'status.nodeName',
    'status.reason',
    'status.conditions[].reason',
    'status.interfaces[].ipAddress',
    'status.interfaces[].ipAddresses',
    'status.interfaces[].mac',
    'status.interfaces[].name',
    'status.migrationState.sourceNode',
    'status.migrationState.targetNode',
    'status.migrationState.completed',
    'status.migrationState.failed',
    'status.migrationState.mode',
    'status.guestOSInfo.prettyName',
    'status.volumeStatus[].name',
    'status.volumeStatus[].target',
    'status.phaseTransitionTimestamps[].phase',
    'status.currentCPUTopology.cores',
    'status.memory.guestAtBoot',
    'status.qosClass',
  ],
  VirtualMachineInstanceMigration: ['spec.vmiName', 'status.phase', 'status.migrationState.migrationConfiguration.bandwidthPerMigration', 'status.migrationState.migrationConfiguration.allowPostCopy', 'status.migrationState.migrationConfiguration.completionTimeoutPerGiB', 'status.migrationState.migrationConfiguration.progressTimeout', 'status.migrationState.migrationConfiguration.allowAutoConverge', 'status.conditions[].type'],
  MigrationPolicy: ['spec.selectors.namespaceSelector', 'spec.selectors.virtualMachineInstanceSelector', 'spec.bandwidthPerMigration', 'spec.completionTimeoutPerGiB', 'spec.allowAutoConverge', 'spec.allowPostCopy', 'spec.maxDowntimeMs'],
  KubeVirt: [
    'spec.configuration.migrations.parallelMigrationsPerCluster',
    'spec.configuration.migrations.parallelOutboundMigrationsPerNode',
    'spec.configuration.migrations.bandwidthPerMigration',
    'spec.configuration.migrations.completionTimeoutPerGiB',
    'spec.configuration.migrations.progressTimeout',
    'spec.configuration.migrations.allowAutoConverge',
    'spec.configuration.migrations.allowPostCopy',
    'spec.configuration.migrations.disableTLS',
    'spec.configuration.migrations.maxDowntimeMs',
    'status.phase',
  ],
  VirtualMachineClusterInstancetype: ['spec.cpu.guest', 'spec.memory.guest'],
  VirtualMachineInstancetype: ['spec.cpu.guest', 'spec.memory.guest'],
  VirtualMachineClusterPreference: ['spec.devices.preferredDiskBus', 'spec.devices.preferredInterfaceModel', 'spec.firmware.preferredUseEfi', 'spec.cpu.preferredCPUTopology', 'spec.requirements.cpu.guest'],
  VirtualMachinePreference: ['spec.devices.preferredDiskBus'],
  VirtualMachineSnapshot: ['spec.source.kind', 'spec.source.name', 'status.readyToUse', 'status.phase', 'status.indications'],
  VirtualMachineSnapshotContent: ['spec.source.virtualMachine.spec.template.spec.domain.cpu.cores', 'spec.volumeBackups[].volumeSnapshotName'],
  VirtualMachineRestore: ['spec.target.name', 'spec.virtualMachineSnapshotName', 'status.complete'],
  VirtualMachineClone: ['spec.source.name', 'spec.target.name', 'status.phase'],
  DataVolume: ['spec.source.http.url', 'spec.source.registry.url', 'spec.source.upload', 'spec.source.blank', 'spec.source.pvc.name', 'spec.storage.resources.requests', 'status.phase', 'status.progress', 'status.restartCount', 'status.conditions[].type'],
  NetworkAttachmentDefinition: ['spec.config'],
};

test('every field Cairn serves for a KubeVirt kind has KubeVirt’s name and type', () => {
  const served = VIRT_CRDS.map(kindOf);
  assert.deepEqual(served.filter((k) => !ORACLE[k] && !NOT_IN_SWAGGER.includes(k)), [], 'a served kind without an oracle definition');
  for (const crd of VIRT_CRDS) {
    const kind = kindOf(crd);
    if (NOT_IN_SWAGGER.includes(kind)) continue;
    assert.deepEqual(differences(kind, schemaOf(crd)), [], `${kind} differs from KubeVirt's OpenAPI`);
  }
});

test('the fields issue 8 relies on are declared', () => {
  for (const crd of VIRT_CRDS) {
    const kind = kindOf(crd);
    const missing = (IMPORTANT[kind] ?? []).filter((p) => !declares(schemaOf(crd), p));
    assert.deepEqual(missing, [], `${kind} lacks fields`);
    assert.ok(IMPORTANT[kind]?.length, `${kind} has no important fields listed`);
  }
});

test('the oracle catches a misspelled or mistyped field', () => {
  const vm = structuredClone(schemaOf(VIRT_CRDS.find((c) => kindOf(c) === 'VirtualMachine')!));
  const spec = vm.properties!.spec;
  spec.properties!.runStrateggy = { type: 'string' };
  spec.properties!.running = { type: 'string' };
  spec.properties!.template.properties!.spec.properties!.domain.properties!.cpu.properties!.cores = { type: 'integer', format: 'int32' };
  assert.deepEqual(differences('VirtualMachine', vm), [
    'VirtualMachine.spec.running: Cairn has string, KubeVirt boolean',
    'VirtualMachine.spec.template.spec.domain.cpu.cores: Cairn has format int32, KubeVirt int64',
    "VirtualMachine.spec.runStrateggy: not in KubeVirt's schema",
  ]);
});
