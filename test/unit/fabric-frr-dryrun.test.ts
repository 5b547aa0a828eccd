// FRR itself must accept every rendered frr.conf: `vtysh --dryrun -f` parses each line for
// every daemon. FRR (Debian's frr, installed by scripts/setup.sh) is a prerequisite: without
// it this test fails, it does not skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderNode } from '../../src/fabric/render.js';
import { checkFrrInstalled, dryRun } from '../../src/fabric/lab/frr.js';
import { DESIGNS, loadDesign, mesh } from './fabric-fixtures.js';

test('vtysh --dryrun accepts every rendered frr.conf', async () => {
  await checkFrrInstalled();
  const dir = await mkdtemp(join(tmpdir(), `cairn-fabric-dryrun-${process.pid}-`));
  try {
    const designs = Object.keys(DESIGNS).map((name) => ({ name, t: loadDesign(name) }));
    // Also a 2-node pair with parallel links, and the iBGP scheme on a 4-node full mesh.
    designs.push({ name: 'pair', t: mesh(['a', 'b'], [['a', 'b'], ['a', 'b']]) });
    const full4 = mesh(['a', 'b', 'c', 'd'], [['a', 'b'], ['a', 'c'], ['a', 'd'], ['b', 'c'], ['b', 'd'], ['c', 'd']]);
    designs.push({ name: 'ibgp-4', t: { ...full4, bgp: { scheme: 'ibgp', asn: 65000, timers: { keepalive: 3, hold: 9 } }, nodes: full4.nodes.map(({ asn: _asn, ...n }) => n) } });
    let checked = 0;
    for (const { name, t } of designs) {
      for (const node of t.nodes) {
        const file = join(dir, `${name}-${node.name}.conf`);
        await writeFile(file, renderNode(t, node.name)['frr.conf']);
        await dryRun(file);
        checked++;
      }
    }
    assert.equal(checked, 3 + 3 + 5 + 2 + 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('vtysh --dryrun rejects a broken frr.conf with the offending line (the check is real)', async () => {
  await checkFrrInstalled();
  const dir = await mkdtemp(join(tmpdir(), `cairn-fabric-dryrun-${process.pid}-`));
  try {
    const file = join(dir, 'frr.conf');
    const good = renderNode(loadDesign('switchless-3node-ebgp'), 'pve1')['frr.conf'];
    await writeFile(file, good.replace(' neighbor evpn ebgp-multihop 2', ' neighbor evpn ebgp-multihop two'));
    await assert.rejects(dryRun(file), (e: Error & { logLines: string[] }) => {
      assert.equal(e.name, 'FrrError');
      assert.ok(e.logLines.some((l) => l.includes('ebgp-multihop two')), e.message);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
