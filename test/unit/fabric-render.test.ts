// Golden-file tests of `cairn fabric render` for the two shipped designs and the 5-node ring:
// every file of every node must match test/fixtures/fabric/golden/<design>/<node>/<file>
// byte for byte. After an intended change, regenerate with CAIRN_UPDATE_GOLDEN=1 and review
// the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderAll, renderNode } from '../../src/fabric/render.js';
import { validateTopology } from '../../src/fabric/validate.js';
import { DESIGNS, loadDesign, repoPath } from './fabric-fixtures.js';

const GOLDEN = repoPath('test/fixtures/fabric/golden');
const update = process.env.CAIRN_UPDATE_GOLDEN === '1';

for (const design of Object.keys(DESIGNS)) {
  test(`${design}: every node's files match the golden files`, async () => {
    const t = loadDesign(design);
    assert.deepEqual(validateTopology(t), [], 'the design is valid');
    for (const node of t.nodes) {
      const files = renderNode(t, node.name);
      assert.deepEqual(Object.keys(files).sort(), ['ceph.conf', 'corosync.conf', 'frr.conf', 'interfaces']);
      for (const [name, text] of Object.entries(files)) {
        const golden = join(GOLDEN, design, node.name, name);
        if (update) {
          await mkdir(join(GOLDEN, design, node.name), { recursive: true });
          await writeFile(golden, text);
        }
        assert.equal(text, await readFile(golden, 'utf8'), `${design}/${node.name}/${name} differs from its golden file`);
      }
    }
  });
}

test('rendering is deterministic', () => {
  for (const design of Object.keys(DESIGNS)) {
    const t = loadDesign(design);
    for (const node of t.nodes) assert.deepEqual(renderNode(t, node.name), renderNode(loadDesign(design), node.name));
  }
});

test('renderAll writes DIR/<node>/<file> and bumps corosync config_version over the previous rendering', async () => {
  const dir = await mkdtemp(join(tmpdir(), `cairn-fabric-render-${process.pid}-`));
  try {
    const t = loadDesign('switchless-3node-ebgp');
    const first = await renderAll(t, dir);
    assert.equal(first.length, 3 * 4);
    const v1 = await readFile(join(dir, 'pve2', 'corosync.conf'), 'utf8');
    assert.match(v1, /^ {2}config_version: 1$/m);
    assert.equal(await readFile(join(dir, 'pve2', 'frr.conf'), 'utf8'), renderNode(t, 'pve2')['frr.conf']);

    await renderAll(t, dir);
    const v2 = await readFile(join(dir, 'pve2', 'corosync.conf'), 'utf8');
    assert.match(v2, /^ {2}config_version: 2$/m);
    assert.equal(v2.replace('config_version: 2', 'config_version: 1'), v1, 'only the version changed');

    // A hand-bumped version on one node is carried on from there.
    await writeFile(join(dir, 'pve3', 'corosync.conf'), v1.replace('config_version: 1', 'config_version: 41'));
    await renderAll(t, dir);
    assert.match(await readFile(join(dir, 'pve3', 'corosync.conf'), 'utf8'), /^ {2}config_version: 42$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('renderNode: previous corosync version and unknown node', () => {
  const t = loadDesign('switchless-3node-ibgp');
  assert.match(renderNode(t, 'pve1', { corosyncVersion: 7 })['corosync.conf'], /^ {2}config_version: 8$/m);
  assert.throws(() => renderNode(t, 'pve9'), { name: 'UnknownNodeError', message: 'the topology has no node "pve9"' });
});
