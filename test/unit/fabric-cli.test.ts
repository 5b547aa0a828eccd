// `cairn fabric schema|validate|render` as a user runs them: exit codes, one line per problem,
// never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESIGNS, repoPath } from './fabric-fixtures.js';

function cairn(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [repoPath('bin/cairn.js'), 'fabric', ...args], { encoding: 'utf8', env: { ...process.env, CAIRN_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `cairn-fabric-cli-${process.pid}-`));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('fabric schema prints the JSON Schema', () => {
  const r = cairn('schema');
  assert.equal(r.code, 0, r.stderr);
  const schema = JSON.parse(r.stdout);
  assert.equal(schema.title, 'Cairn fabric topology');
});

test('fabric validate: the examples are valid', () => {
  for (const file of Object.values(DESIGNS)) {
    const r = cairn('validate', repoPath(file));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /: valid \(\d nodes, \d links, \d VNIs, [ie]bgp\)\n$/);
  }
});

test('fabric validate: every problem on its own line with its path, exit 1', () =>
  withDir(async (dir) => {
    const file = join(dir, 'bad.yaml');
    const text = (await readFile(repoPath(DESIGNS['switchless-3node-ebgp']), 'utf8'))
      .replace('asn: 65003', 'asn: 65002')
      .replace('{ vni: 200,', '{ vni: 100,')
      .replace('underlay: 9000', 'underlay: 1520');
    await writeFile(file, text);
    const r = cairn('validate', file);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `${file}: nodes[2].asn: AS 65002 is also nodes[1]'s; with eBGP every node needs its own AS`,
      `${file}: evpn.vnis[1].vni: VNI 100 is also evpn.vnis[0]'s`,
      `${file}: mtu.underlay: underlay MTU 1520 leaves no room for VXLAN: the overlay MTU 1500 plus 50 bytes needs at least 1550`,
    ]);
    const json = JSON.parse(cairn('validate', file, '-o', 'json').stdout);
    assert.deepEqual(json.map((p: { code: string }) => p.code), ['asn-scheme', 'vni-duplicate', 'mtu']);
  }));

test('fabric validate: unknown fields, invalid YAML and a missing file are one line each, no stack trace', () =>
  withDir(async (dir) => {
    const unknown = join(dir, 'unknown.yaml');
    await writeFile(unknown, (await readFile(repoPath(DESIGNS['switchless-3node-ibgp']), 'utf8')).replace('bgp:\n', 'bgp:\n  bfd: true\n'));
    let r = cairn('validate', unknown);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: ${unknown}: bgp.bfd: unknown field\n`);

    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'name: x\n  nodes: [\n');
    r = cairn('validate', broken);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*broken\.yaml: invalid YAML at line \d+ column \d+: [^\n]+\n$/);

    r = cairn('render', join(dir, 'missing.yaml'), '--out', dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: ${join(dir, 'missing.yaml')}: cannot read: no such file\n`);
  }));

test('fabric render writes every node\'s files, refuses an invalid topology, and bumps config_version', () =>
  withDir(async (dir) => {
    const out = join(dir, 'out');
    let r = cairn('render', repoPath(DESIGNS['switchless-3node-ibgp']), '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `rendered 12 files for 3 nodes into ${out}\n`);
    assert.deepEqual((await readdir(out)).sort(), ['pve1', 'pve2', 'pve3']);
    assert.deepEqual((await readdir(join(out, 'pve1'))).sort(), ['ceph.conf', 'corosync.conf', 'frr.conf', 'interfaces']);
    r = cairn('render', repoPath(DESIGNS['switchless-3node-ibgp']), '--out', out);
    assert.match(await readFile(join(out, 'pve1', 'corosync.conf'), 'utf8'), /config_version: 2\n/);

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, (await readFile(repoPath(DESIGNS['switchless-3node-ibgp']), 'utf8')).replace('monitors: [pve1, pve2, pve3]', 'monitors: [pve1, pve4]'));
    r = cairn('render', bad, '--out', join(dir, 'out2'));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: ${bad}: ceph.monitors[1]: there is no node "pve4"\n`);
    await assert.rejects(readdir(join(dir, 'out2')), { code: 'ENOENT' }, 'nothing rendered');

    r = cairn('render', repoPath(DESIGNS['switchless-3node-ibgp']));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /render needs --out DIR/);
  }));

test('fabric: unknown and missing subcommands', () => {
  let r = cairn('frobnicate');
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `error: unknown subcommand "frobnicate"; run 'cairn fabric --help'\n`);
  r = cairn();
  assert.equal(r.code, 2);
  r = cairn('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /validate FILE/);
});
