// cloud-init volume data checked as KubeVirt's webhook does: one source each, the 2048-byte
// inline limit (decoded length for base64), strict base64, Secret keys; and the #cloud-config
// subset and network config reader of the test guest (run by the host's busybox).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCloudInitData, decodeBase64Strict, CloudInitDataError, CLOUD_INIT_INLINE_MAX_BYTES } from '../../src/virt/cloud-init/cloud-init-data.js';

const F = 'spec.volumes[1].cloudInitNoCloud';

async function rejectsWith(p: Promise<unknown>, field: string, message: RegExp): Promise<void> {
  const e = await p.catch((x: unknown) => x);
  assert.ok(e instanceof CloudInitDataError, `expected CloudInitDataError, got ${String(e)}`);
  assert.equal(e.field, field);
  assert.match(e.message, message);
}

test('inline, base64 and Secret user data and network data', async () => {
  assert.deepEqual(await resolveCloudInitData({ userData: '#cloud-config\n' }, F), { userData: '#cloud-config\n' });
  assert.deepEqual(await resolveCloudInitData({ userDataBase64: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'), networkData: 'version: 2\n' }, F), { userData: '#!/bin/sh\necho hi\n', networkData: 'version: 2\n' });
  // Line breaks inside base64 are ignored (as Go's decoder).
  assert.equal(decodeBase64Strict('aGVs\nbG8K\n', 'x'), 'hello\n');
  assert.deepEqual(await resolveCloudInitData({ networkData: 'version: 1\n' }, F), { userData: '', networkData: 'version: 1\n' });
  const secrets = async (name: string) => (name === 'vm-secret' ? { userdata: 'x'.repeat(10_000), networkData: 'n' } : undefined);
  const s = await resolveCloudInitData({ secretRef: { name: 'vm-secret' }, networkDataSecretRef: { name: 'vm-secret' } }, F, secrets);
  assert.equal(s.userData.length, 10_000, 'Secret data is not size-limited');
  assert.equal(s.networkData, 'n');
  await rejectsWith(resolveCloudInitData({ secretRef: { name: 'missing' } }, F, secrets), `${F}.secretRef`, /Secret missing not found/);
  await rejectsWith(resolveCloudInitData({ secretRef: { name: 'other' } }, F, async () => ({ foo: 'x' })), `${F}.secretRef`, /no userdata or userData key/);
});

test('invalid: bad base64, two sources, over the limit, nothing set', async () => {
  for (const bad of ['not*base64!', 'aGVsbG8', 'aGVsbG8K=', 'aGV sbG8K']) {
    await rejectsWith(resolveCloudInitData({ userDataBase64: bad }, F), `${F}.userDataBase64`, /is not a valid base64 value/);
  }
  await rejectsWith(resolveCloudInitData({ networkDataBase64: '%%%%' }, F), `${F}.networkDataBase64`, /is not a valid base64 value/);
  await rejectsWith(resolveCloudInitData({ userData: 'a', userDataBase64: 'YQ==' }, F), F, /only one userdata source/);
  await rejectsWith(resolveCloudInitData({ networkData: 'a', networkDataSecretRef: { name: 's' } }, F), F, /only one networkdata source/);
  const max = 'x'.repeat(CLOUD_INIT_INLINE_MAX_BYTES);
  assert.equal((await resolveCloudInitData({ userData: max }, F)).userData.length, 2048);
  await rejectsWith(resolveCloudInitData({ userData: max + 'x' }, F), F, /userdata exceeds 2048 byte limit/);
  // The decoded length counts for base64.
  assert.equal((await resolveCloudInitData({ userDataBase64: Buffer.from(max).toString('base64') }, F)).userData.length, 2048);
  await rejectsWith(resolveCloudInitData({ userDataBase64: Buffer.from(max + 'x').toString('base64') }, F), F, /exceeds 2048 byte limit/);
  await rejectsWith(resolveCloudInitData({ networkData: max + 'x' }, F), F, /networkdata exceeds 2048 byte limit/);
  await rejectsWith(resolveCloudInitData({}, F), F, /at least one userdatasource or one networkdatasource/);
});

test("the guest's #cloud-config subset turns user data into the commands that apply it", () => {
  const userData = [
    '#cloud-config',
    'hostname: vm-one',
    'password: s3cret',
    'ssh_authorized_keys:',
    '  - ssh-ed25519 AAAA test@x',
    'bootcmd:',
    '  - echo boot > /tmp/boot',
    'write_files:',
    '  - path: /www/a.txt',
    "    permissions: '0600'",
    '    content: |',
    "      it's here",
    '        indented',
    '  - path: /tmp/b',
    '    encoding: b64',
    '    content: aGVsbG8K',
    'runcmd:',
    '  - echo run',
    '  - [ sh, -c, "echo \'a, b\'" ]',
    '',
  ].join('\n');
  const r = spawnSync('busybox', ['awk', '-f', fileURLToPath(new URL('../../../scripts/build-test-guest-cloud-config.awk', import.meta.url))], { input: userData, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const order = ['sh -c \'echo boot > /tmp/boot\'', "hostname 'vm-one'", "printf '%s' 'it'\\''s here", "chmod '0600' '/www/a.txt'", "| base64 -d >'/tmp/b'", '/var/cloud/password', 'authorized_keys', "sh -c 'echo run'", "'sh' '-c' 'echo '\\''a, b'\\'''"];
  let at = -1;
  for (const want of order) {
    const i = lines.findIndex((l, j) => j > at && l.includes(want));
    assert.ok(i > at, `missing or out of order: ${want}\n${r.stdout}`);
    at = i;
  }
  assert.ok(r.stdout.includes("  indented\n' >'/www/a.txt'"), 'block content keeps relative indentation and its final newline');
});

test("the guest's network config reader: NoCloud v1 and v2, ConfigDrive network_data.json, DHCP", () => {
  const script = fileURLToPath(new URL('../../../scripts/build-test-guest-netcfg.sh', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'cairn-netcfg-'));
  try {
    const read = (text: string) => {
      writeFileSync(join(dir, 'cfg'), text);
      const r = spawnSync('busybox', ['sh', script, join(dir, 'cfg')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    const v1 = ['version: 1', 'config:', '  - type: physical', '    name: eth0', '    subnets:', '      - type: static', '        address: 192.168.5.10', '        netmask: 255.255.255.0', '        gateway: 192.168.5.1', ''];
    assert.equal(read(v1.join('\n')), '192.168.5.10/24 192.168.5.1');
    assert.equal(read('version: 2\nethernets:\n  eth0:\n    addresses: [10.1.2.3/16]\n    gateway4: 10.1.0.1\n    nameservers:\n      addresses: [10.96.0.10]\n'), '10.1.2.3/16 10.1.0.1');
    assert.equal(read('version: 2\nethernets:\n  eth0:\n    addresses:\n      - 10.9.9.9/24\n'), '10.9.9.9/24');
    // DHCP with DNS servers: the nameserver list is not an interface address.
    assert.equal(read('version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    nameservers:\n      addresses: [10.96.0.10]\n'), '');
    const nd = { links: [{ id: 'nic0' }], networks: [{ id: 'n', type: 'ipv4', ip_address: '10.0.2.50', netmask: '255.255.252.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.1' }] }] };
    assert.equal(read(JSON.stringify(nd)), '10.0.2.50/22 10.0.2.1');
    assert.equal(read(''), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
