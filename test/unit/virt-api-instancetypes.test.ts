import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindsFromCRD } from '../../src/kinds/apiextensions/customresourcedefinition.js';
import { pruneUnknownFields } from '../../src/schema/unknown-fields.js';
import { builtinResolver } from '../../src/schema/builtin-resolver.js';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import { COMMON_INSTANCETYPES, COMMON_PREFERENCES } from '../../src/virt/api/common-instancetypes.js';
import { INSTANCETYPE_CRDS } from '../../src/virt/api/instancetype.js';

const kindNamed = (kind: string) => kindsFromCRD(INSTANCETYPE_CRDS.find((c) => (c.spec as any).names.kind === kind)!)[0];

test('the common instancetypes carry KubeVirt’s names and sizes', () => {
  const byName = new Map(COMMON_INSTANCETYPES.map((o) => [o.metadata.name, o.spec as any]));
  for (const n of ['u1.nano', 'u1.micro', 'u1.small', 'u1.medium', 'u1.2xmedium', 'u1.large', 'u1.xlarge', 'u1.2xlarge', 'u1.4xlarge', 'u1.8xlarge', 'o1.nano', 'cx1.medium', 'm1.large'])
    assert.ok(byName.has(n), `${n} missing`);
  assert.deepEqual(byName.get('u1.small'), { cpu: { guest: 1 }, memory: { guest: '2Gi' } });
  assert.deepEqual(byName.get('o1.large').memory, { guest: '8Gi', overcommitPercent: 50 });
  assert.equal(byName.get('cx1.xlarge').cpu.dedicatedCPUPlacement, true);
  assert.equal(byName.has('o1.2xmedium'), false);
});

test('the common preferences cover the usual guests', () => {
  const names = COMMON_PREFERENCES.map((o) => o.metadata.name);
  for (const n of ['fedora', 'ubuntu', 'debian', 'centos.stream9', 'rhel.9', 'alpine', 'cirros', 'windows.10', 'windows.11', 'windows.2k22.virtio']) assert.ok(names.includes(n), `${n} missing`);
  const win11 = COMMON_PREFERENCES.find((o) => o.metadata.name === 'windows.11')!.spec as any;
  assert.deepEqual(win11.firmware, { preferredUseEfi: true, preferredUseSecureBoot: true });
  assert.equal(win11.devices.preferredDiskBus, 'sata');
});

test('every shipped object is valid against the CRD schema and loses nothing to pruning', () => {
  for (const [kind, objs] of [['VirtualMachineClusterInstancetype', COMMON_INSTANCETYPES], ['VirtualMachineClusterPreference', COMMON_PREFERENCES]] as const) {
    const k = kindNamed(kind);
    for (const o of objs) {
      const copy = structuredClone(o);
      assert.deepEqual(pruneUnknownFields(copy, k.schema!, builtinResolver), [], `${o.metadata.name} has unknown fields`);
      assert.deepEqual(k.strategy!.validate!(copy).map(fieldErrorText), [], `${o.metadata.name} is invalid`);
    }
  }
});
