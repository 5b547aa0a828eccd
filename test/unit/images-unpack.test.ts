import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyLayer, cleanName, readTar, writeTar, LayerError, type TarWriteEntry } from '../../src/agent/images/index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function sandbox() {
  const d = mkdtempSync(join(tmpdir(), 'cairn-unpack-'));
  dirs.push(d);
  const root = join(d, 'root');
  const outside = join(d, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  return { root, outside, d };
}
const apply = (root: string, entries: TarWriteEntry[]) => applyLayer(root, readTar([writeTar(entries)]));

test('entry names are cleaned; climbing above the root is refused', () => {
  assert.deepEqual(cleanName('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(cleanName('/abs/x'), ['abs', 'x']);
  assert.deepEqual(cleanName('a/../b'), ['b']);
  assert.throws(() => cleanName('../x'), LayerError);
  assert.throws(() => cleanName('a/../../x'), LayerError);
});

test('path traversal through names, symlinks and hardlinks never writes outside the root', async () => {
  const { root, outside, d } = sandbox();
  await assert.rejects(apply(root, [{ name: '../outside/evil', data: 'x' }]), LayerError);
  assert.deepEqual(readdirSync(outside), []);
  // a symlink to an absolute path (and one climbing with ..) is followed inside the root
  await apply(root, [
    { name: 'escape', type: 'symlink', linkname: outside },
    { name: 'escape/evil', data: 'abs' },
    { name: 'up', type: 'symlink', linkname: '../../../../outside' },
    { name: 'up/evil2', data: 'rel' },
  ]);
  assert.deepEqual(readdirSync(outside), []);
  assert.equal(readlinkSync(join(root, 'escape')), outside, 'the link itself is kept as written');
  assert.equal(readFileSync(join(root, outside, 'evil'), 'utf8'), 'abs');
  assert.equal(readFileSync(join(root, 'outside', 'evil2'), 'utf8'), 'rel');
  // hardlinks to files outside the root
  writeFileSync(join(outside, 'target'), 'secret');
  await assert.rejects(apply(root, [{ name: 'h', type: 'link', linkname: '../outside/target' }]), LayerError);
  await assert.rejects(apply(root, [{ name: 'h2', type: 'link', linkname: `${d}/outside/target` }]), /does not exist/);
  // a whiteout through a symlinked parent deletes inside the root only
  await apply(root, [{ name: 'escape/.wh.target', data: '' }]);
  assert.ok(existsSync(join(outside, 'target')));
});

test('whiteouts delete lower files; opaque dirs keep only what their own layer wrote', async () => {
  const { root } = sandbox();
  await apply(root, [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/a', data: 'a' },
    { name: 'etc/b', data: 'b' },
    { name: 'etc/sub/c', data: 'c' },
    { name: 'keep/x', data: 'x' },
  ]);
  // the layer writes etc/new BEFORE its opaque marker, and etc/sub/d in a re-stated subdir
  const r = await apply(root, [
    { name: 'etc', type: 'directory', mode: 0o700 },
    { name: 'etc/new', data: 'new' },
    { name: 'etc/sub', type: 'directory' },
    { name: 'etc/sub/d', data: 'd' },
    { name: 'etc/.wh..wh..opq', data: '' },
    { name: 'keep/.wh.x', data: '' },
    { name: 'keep/.wh.nothing-there', data: '' },
    { name: 'dev/null', type: 'chardev', devmajor: 1, devminor: 3 },
    { name: 'fifo', type: 'fifo' },
  ]);
  assert.deepEqual(readdirSync(join(root, 'etc')).sort(), ['new', 'sub']);
  assert.deepEqual(readdirSync(join(root, 'etc', 'sub')), ['d']);
  assert.deepEqual(readdirSync(join(root, 'keep')), []);
  assert.equal(statSync(join(root, 'etc')).mode & 0o777, 0o700);
  assert.deepEqual(r.skipped, ['/dev/null', '/fifo']);
  assert.equal(existsSync(join(root, '.wh..wh..opq')), false);
});

test('replacing kinds: file over dir, dir over file, symlink over file; metadata kept', async () => {
  const { root } = sandbox();
  await apply(root, [
    { name: 'x/inner', data: '1' },
    { name: 'y', data: 'file' },
    { name: 'z', data: 'file' },
  ]);
  await apply(root, [
    { name: 'x', data: 'now a file', mode: 0o640, mtime: 1234567890 },
    { name: 'y', type: 'directory', mode: 0o711 },
    { name: 'z', type: 'symlink', linkname: 'y' },
    { name: 'suid', data: '#!', mode: 0o4755, uid: 0, gid: 0 },
  ]);
  assert.equal(readFileSync(join(root, 'x'), 'utf8'), 'now a file');
  assert.equal(statSync(join(root, 'x')).mode & 0o7777, 0o640);
  assert.equal(statSync(join(root, 'x')).mtimeMs, 1234567890_000);
  assert.ok(statSync(join(root, 'y')).isDirectory());
  assert.equal(statSync(join(root, 'y')).mode & 0o7777, 0o711);
  assert.ok(lstatSync(join(root, 'z')).isSymbolicLink());
  assert.equal(statSync(join(root, 'suid')).mode & 0o7777, 0o4755);
});
