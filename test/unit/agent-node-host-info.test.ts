// Host facts as the node reports them: /proc and os-release parsing, quantities in the kubelet's
// canonical form, capacity and allocatable (hard-eviction reserve, huge pages).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goArch, nodeResources } from '../../src/agent/node/host-info.js';
import { hugepageSize, parseMeminfo, parseOsRelease } from '../../src/agent/node/proc-parsers.js';
import { binaryQuantity } from '../../src/agent/node/quantity.js';

const MEMINFO = `MemTotal:        8148236 kB
MemFree:          512344 kB
MemAvailable:    6123456 kB
Cached:          4000000 kB
HugePages_Total:       2
Hugepagesize:       2048 kB
`;

test('meminfo: kB fields in bytes, counts as they are', () => {
  const m = parseMeminfo(MEMINFO);
  assert.equal(m.get('MemTotal'), 8148236 * 1024);
  assert.equal(m.get('MemAvailable'), 6123456 * 1024);
  assert.equal(m.get('HugePages_Total'), 2);
  assert.equal(m.get('Hugepagesize'), 2048 * 1024);
  assert.equal(m.get('Nope'), undefined);
});

test('os-release: PRETTY_NAME unquoted, else Linux', () => {
  assert.equal(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'), 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(parseOsRelease("PRETTY_NAME='Alpine Linux v3.20'\n"), 'Alpine Linux v3.20');
  assert.equal(parseOsRelease('PRETTY_NAME=Plain\n'), 'Plain');
  assert.equal(parseOsRelease('NAME=Something\n'), 'Linux');
  assert.equal(parseOsRelease(''), 'Linux');
});

test('Go architecture names', () => {
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('arm64'), 'arm64');
  assert.equal(goArch('ia32'), '386');
  assert.equal(goArch('ppc64'), 'ppc64le');
});

test('hugepage directory names', () => {
  assert.equal(hugepageSize('hugepages-2048kB'), 2 * 1024 * 1024);
  assert.equal(hugepageSize('hugepages-1048576kB'), 1024 * 1024 * 1024);
  assert.equal(hugepageSize('nr_hugepages'), undefined);
});

test('byte quantities in canonical BinarySI form', () => {
  assert.equal(binaryQuantity(0), '0');
  assert.equal(binaryQuantity(8148236 * 1024), '8148236Ki');
  assert.equal(binaryQuantity(2 * 1024 * 1024), '2Mi');
  assert.equal(binaryQuantity(1024 ** 3), '1Gi');
  assert.equal(binaryQuantity(94633183485), '94633183485');
  assert.throws(() => binaryQuantity(-1), RangeError);
  assert.throws(() => binaryQuantity(1.5), RangeError);
});

test('capacity and allocatable: memory less 100Mi and huge pages, ephemeral storage less 10%', () => {
  const r = nodeResources({
    cpus: 2,
    memTotalBytes: 8148236 * 1024,
    hugepages: [
      { pageBytes: 2 * 1024 * 1024, count: 2 },
      { pageBytes: 1024 ** 3, count: 0 },
    ],
    fsCapacityBytes: 102683576 * 1024,
    maxPods: 110,
  });
  assert.deepEqual(r.capacity, {
    cpu: '2',
    'ephemeral-storage': '102683576Ki',
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '4Mi',
    memory: '8148236Ki',
    pods: '110',
  });
  assert.deepEqual(r.allocatable, {
    cpu: '2',
    // 105147981824 bytes less 10% (10514798182), not a whole number of Ki: printed in bytes
    'ephemeral-storage': '94633183642',
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '4Mi',
    // 8148236Ki − 4Mi of huge pages − 100Mi of eviction reserve
    memory: `${8148236 - 4 * 1024 - 100 * 1024}Ki`,
    pods: '110',
  });
});

test('capacity overrides replace both capacity and allocatable', () => {
  const r = nodeResources({ cpus: 8, memTotalBytes: 1024 ** 3, hugepages: [], fsCapacityBytes: 1024 ** 3, maxPods: 10 }, { cpu: '4', memory: '2Gi' });
  assert.equal(r.capacity.cpu, '4');
  assert.equal(r.allocatable.cpu, '4');
  assert.equal(r.capacity.memory, '2Gi');
  assert.equal(r.allocatable.memory, '2Gi');
  assert.equal(r.capacity.pods, '10');
});
