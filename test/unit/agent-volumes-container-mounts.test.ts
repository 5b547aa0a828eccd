/**
 * A container's bind mounts from its volumeMounts: read-only rules, propagation, subPath and
 * subPathExpr (created when missing, kept inside the volume against `..` and symlinks), the
 * kubelet's and containerd's extra files, ordering, and the errors a user sees.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, Pod } from '../../src/agent/pods/api-types.js';
import { ContainerConfigError } from '../../src/agent/pods/errors.js';
import { containerMounts } from '../../src/agent/volumes/container-mounts.js';
import type { PreparedVolume } from '../../src/agent/volumes/plugin.js';

describe('container mounts', () => {
  let root: string;
  let prepared: Map<string, PreparedVolume>;
  const pod = (c: Container): Pod => ({ metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { containers: [c] } });
  const mounts = (c: Container, env: Record<string, string> = {}, extra = {}) => containerMounts(pod(c), c, prepared, env, extra);

  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), `cairn-cm-${process.pid}-`)));
    for (const d of ['data', 'cfg', 'outside']) mkdirSync(join(root, d));
    chmodSync(join(root, 'data'), 0o777);
    writeFileSync(join(root, 'outside', 'secret'), 'host');
    prepared = new Map<string, PreparedVolume>([
      ['data', { hostPath: join(root, 'data'), readOnly: false, kind: 'dir' }],
      ['cfg', { hostPath: join(root, 'cfg'), readOnly: true, kind: 'dir' }],
      ['missing-host-dir', { hostPath: join(root, 'made', 'by', 'runtime'), readOnly: false, kind: 'dir' }],
    ]);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('binds volumes with readOnly (forced for read-only volumes) and propagation', () => {
    const m = mounts({
      name: 'app',
      volumeMounts: [
        { name: 'data', mountPath: '/data', mountPropagation: 'HostToContainer' },
        { name: 'cfg', mountPath: '/etc/app' },
        { name: 'data', mountPath: '/ro', readOnly: true },
      ],
    });
    assert.deepEqual(m, [
      { kind: 'bind', source: join(root, 'data'), destination: '/data', readOnly: false, propagation: 'HostToContainer' },
      { kind: 'bind', source: join(root, 'data'), destination: '/ro', readOnly: true, propagation: 'None' },
      { kind: 'bind', source: join(root, 'cfg'), destination: '/etc/app', readOnly: true, propagation: 'None' },
    ]);
  });

  it('creates a missing host directory as the runtime does', () => {
    mounts({ name: 'app', volumeMounts: [{ name: 'missing-host-dir', mountPath: '/x' }] });
    assert.ok(statSync(join(root, 'made', 'by', 'runtime')).isDirectory());
  });

  it('names an unknown volume', () => {
    assert.throws(() => mounts({ name: 'app', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }), (e: Error) => {
      assert.ok(e instanceof ContainerConfigError);
      assert.equal(e.message, 'cannot find volume "nope" to mount into container "app"');
      return true;
    });
  });

  it('creates a missing subPath with the volume mode and binds it', () => {
    const [m] = mounts({ name: 'app', volumeMounts: [{ name: 'data', mountPath: '/logs', subPath: 'logs/app' }] });
    assert.equal(m.kind === 'bind' && m.source, join(root, 'data', 'logs', 'app'));
    assert.equal(statSync(join(root, 'data', 'logs')).mode & 0o777, 0o777);
    assert.equal(statSync(join(root, 'data', 'logs', 'app')).mode & 0o777, 0o777);
  });

  it('expands subPathExpr with the container env and requires every variable', () => {
    const c: Container = { name: 'app', volumeMounts: [{ name: 'data', mountPath: '/out', subPathExpr: 'pods/$(POD_NAME)/$$(literal)' }] };
    const [m] = mounts(c, { POD_NAME: 'web-1' });
    assert.equal(m.kind === 'bind' && m.source, join(root, 'data', 'pods', 'web-1', '$(literal)'));
    const bad: Container = { name: 'app', volumeMounts: [{ name: 'data', mountPath: '/out', subPathExpr: '$(B)/$(A)/$(EMPTY)' }] };
    assert.throws(() => mounts(bad, { EMPTY: '' }), { message: 'missing value for A, B, EMPTY' });
  });

  it('rejects absolute subPaths, backsteps and symlinks out of the volume', () => {
    const c = (subPath: string): Container => ({ name: 'app', volumeMounts: [{ name: 'data', mountPath: '/x', subPath }] });
    assert.throws(() => mounts(c('/etc')), { message: 'error SubPath `/etc` must not be an absolute path' });
    assert.throws(() => mounts(c('a/../../outside')), { message: "unable to provision SubPath `a/../../outside`: must not contain '..'" });
    symlinkSync(join(root, 'outside'), join(root, 'data', 'escape'));
    assert.throws(() => mounts(c('escape')), { message: 'failed to prepare subPath for volumeMount "data" of container "app"' });
    assert.throws(() => mounts(c('escape/new-dir')), { message: 'failed to create subPath directory for volumeMount "data" of container "app"' });
    assert.throws(() => statSync(join(root, 'outside', 'new-dir')), /ENOENT/, 'nothing was created outside the volume');
    symlinkSync('../cfg', join(root, 'data', 'relative-escape'));
    assert.throws(() => mounts(c('relative-escape')), /failed to prepare subPath/);
    // A symlink that stays inside the volume is fine, and is resolved.
    symlinkSync('logs', join(root, 'data', 'inside'));
    const [m] = mounts(c('inside'));
    assert.equal(m.kind === 'bind' && m.source, join(root, 'data', 'logs'));
  });

  it('adds the kubelet and runtime files, skipping what the container mounts itself, parents first', () => {
    const extra = {
      etcHosts: '/pod/etc/hosts',
      resolvConf: '/pod/etc/resolv.conf',
      hostnameFile: '/pod/etc/hostname',
      terminationLog: { hostPath: '/pod/term/app-0', containerPath: '/dev/termination-log' },
    };
    const m = mounts({ name: 'app', securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'data', mountPath: '/var/lib/x' }, { name: 'cfg', mountPath: '/etc/resolv.conf/' }] }, {}, extra);
    assert.deepEqual(
      m.map((x) => [x.destination, x.kind === 'bind' && x.source, x.readOnly]),
      [
        ['/etc/resolv.conf/', join(root, 'cfg'), true],
        ['/etc/hosts', '/pod/etc/hosts', false],
        ['/dev/termination-log', '/pod/term/app-0', false],
        ['/etc/hostname', '/pod/etc/hostname', true],
        ['/var/lib/x', join(root, 'data'), false],
      ],
    );
  });
});
