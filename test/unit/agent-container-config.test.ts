/**
 * Container config from a v1 Container (src/agent/pods/container-config.ts): command/args vs the
 * image, env merge, users and runAsNonRoot, resources, QoS class, oom_score_adj, cgroup paths, and
 * user lookup in an image rootfs (image-user.ts).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, Pod } from '../../src/agent/pods/api-types.js';
import { buildContainerConfig, type ContainerConfigInput, mergeEnv, oomScoreAdj, podCgroupPath, processArgs, qosClass } from '../../src/agent/pods/container-config.js';
import { ContainerConfigError } from '../../src/agent/pods/errors.js';
import { lookupUser } from '../../src/agent/pods/image-user.js';

const GiB = 1024 ** 3;

function pod(containers: Partial<Container>[], extra: Partial<Pod['spec']> = {}): Pod {
  return {
    metadata: { name: 'web', namespace: 'ns1', uid: 'uid-1' },
    spec: { containers: containers.map((c, i) => ({ name: `c${i}`, image: 'img', ...c })), ...extra },
  };
}

function input(p: Pod, over: Partial<ContainerConfigInput> = {}): ContainerConfigInput {
  return {
    pod: p,
    container: p.spec.containers[0],
    imageConfig: { Entrypoint: ['/entry'], Cmd: ['--serve'], Env: ['PATH=/usr/bin', 'IMG=1'], WorkingDir: '/app', User: '' },
    env: [],
    mounts: [],
    rootfs: 'rootfs',
    cgroupsPath: '/kubepods/poduid-1/c0',
    namespaces: { network: { path: '/var/run/netns/x' } },
    memoryCapacityBytes: 8 * GiB,
    ...over,
  };
}

describe('processArgs (command/args vs the image, as kubelet + containerd)', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['--serve'] };
  const cases: [string, Partial<Container>, { Entrypoint?: string[] | null; Cmd?: string[] | null }, string[]][] = [
    ['image defaults', {}, image, ['/entry', '--serve']],
    ['command replaces entrypoint and drops cmd', { command: ['/bin/sh'] }, image, ['/bin/sh']],
    ['command and args', { command: ['/bin/sh'], args: ['-c', 'x'] }, image, ['/bin/sh', '-c', 'x']],
    ['args alone replace cmd', { args: ['--debug'] }, image, ['/entry', '--debug']],
    ['no entrypoint: cmd', {}, { Cmd: ['sh'] }, ['sh']],
    ['entrypoint [""] means none', { args: ['x'] }, { Entrypoint: [''], Cmd: ['y'] }, ['x']],
    ['null entrypoint and cmd from JSON', { command: ['a'] }, { Entrypoint: null, Cmd: null }, ['a']],
  ];
  for (const [name, c, img, want] of cases) it(name, () => assert.deepEqual(processArgs({ name: 'c', ...c }, img, []), want));

  it('expands $(VAR) in command and args with the container env only', () => {
    const c: Container = { name: 'c', command: ['echo', '$(GREETING)'], args: ['$(WHO)', '$$(WHO)', '$(IMG)'] };
    assert.deepEqual(processArgs(c, {}, ['GREETING=hello', 'WHO=world']), ['echo', 'hello', 'world', '$(WHO)', '$(IMG)']);
  });

  it('fails without any command', () => {
    assert.throws(
      () => processArgs({ name: 'c' }, {}, []),
      (e: unknown) => e instanceof ContainerConfigError && e.reason === 'CreateContainerError' && /no command specified/.test(e.message),
    );
  });
});

describe('mergeEnv', () => {
  it('replaces image variables in place and appends new ones', () => {
    assert.deepEqual(mergeEnv(['PATH=/usr/bin', 'A=1', 'B=2'], ['B=20', 'C=3', 'PATH=/bin']), ['PATH=/bin', 'A=1', 'B=20', 'C=3']);
  });
});

describe('qosClass (GetPodQOS)', () => {
  const g = { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } };
  it('BestEffort without requests or limits', () => assert.equal(qosClass(pod([{}, {}])), 'BestEffort'));
  it('BestEffort with only zero quantities', () => assert.equal(qosClass(pod([{ resources: { requests: { cpu: '0' } } }])), 'BestEffort'));
  it('Guaranteed when every container has equal cpu and memory requests and limits', () => assert.equal(qosClass(pod([{ resources: g }, { resources: g }])), 'Guaranteed'));
  it('Guaranteed compares sums exactly (100m+200m = 300m)', () =>
    assert.equal(
      qosClass(
        pod([
          { resources: { limits: { cpu: '100m', memory: '1Gi' }, requests: { cpu: '100m', memory: '1Gi' } } },
          { resources: { limits: { cpu: '200m', memory: '1Gi' }, requests: { cpu: '200m', memory: '1Gi' } } },
        ]),
      ),
      'Guaranteed',
    ));
  it('Burstable when one container lacks limits', () => assert.equal(qosClass(pod([{ resources: g }, { resources: { requests: { cpu: '1' } } }])), 'Burstable'));
  it('Burstable when requests differ from limits', () => assert.equal(qosClass(pod([{ resources: { limits: g.limits, requests: { cpu: '500m', memory: '1Gi' } } }])), 'Burstable'));
  it('Burstable with only a memory limit', () => assert.equal(qosClass(pod([{ resources: { limits: { memory: '1Gi' } } }])), 'Burstable'));
  it('init containers count', () => assert.equal(qosClass(pod([{ resources: g }], { initContainers: [{ name: 'i', resources: { requests: { cpu: '1' } } }] })), 'Burstable'));
  it('ignores other resources', () => assert.equal(qosClass(pod([{ resources: { limits: { 'nvidia.com/gpu': '1' } } }])), 'BestEffort'));
  it('uses status.qosClass when set', () => {
    const p = pod([{}]);
    p.status = { qosClass: 'Guaranteed' };
    assert.equal(qosClass(p), 'Guaranteed');
  });
});

describe('podCgroupPath', () => {
  it('puts pods under kubepods by QoS tier', () => {
    const g = { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } };
    assert.equal(podCgroupPath('/cairn/node-a', pod([{ resources: g }])), '/cairn/node-a/kubepods/poduid-1');
    assert.equal(podCgroupPath('/cairn/node-a/', pod([{ resources: { requests: { cpu: '1' } } }])), '/cairn/node-a/kubepods/burstable/poduid-1');
    assert.equal(podCgroupPath('', pod([{}])), '/kubepods/besteffort/poduid-1');
  });
});

describe('oomScoreAdj (qos/policy.go)', () => {
  const cap = 10 * GiB;
  it('Guaranteed -997, BestEffort 1000', () => {
    const g = pod([{ resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } } }]);
    assert.equal(oomScoreAdj(g, g.spec.containers[0], cap), -997);
    const be = pod([{}]);
    assert.equal(oomScoreAdj(be, be.spec.containers[0], cap), 1000);
  });
  it('Burstable: 1000 - 1000*request/capacity, kept within [3, 999]', () => {
    const at = (memory: string | undefined) => {
      const p = pod([{ resources: { requests: { cpu: '100m', ...(memory ? { memory } : {}) } } }]);
      return oomScoreAdj(p, p.spec.containers[0], cap);
    };
    assert.equal(at('1Gi'), 900);
    assert.equal(at('3Gi'), 700);
    assert.equal(at('1'), 999); // 1000 - 0 → 999, below BestEffort
    assert.equal(at(undefined), 999);
    assert.equal(at('9.99Gi'), 3); // 1000 - 999 = 1 → at least 3
    assert.equal(at('20Gi'), 3);
    assert.equal(at('1.5Gi'), 850);
  });
  it('node-critical pods get -997', () => {
    const p = pod([{}], { priorityClassName: 'system-node-critical' });
    assert.equal(oomScoreAdj(p, p.spec.containers[0], cap), -997);
  });
  it('a sidecar scores no higher than the regular container with the smallest request', () => {
    const p = pod([{ resources: { requests: { memory: '4Gi' } } }, { resources: { requests: { memory: '2Gi' } } }], {
      initContainers: [{ name: 'side', restartPolicy: 'Always', resources: { requests: { memory: '1Gi' } } }],
    });
    assert.equal(oomScoreAdj(p, p.spec.initContainers![0], cap), 800);
    assert.equal(oomScoreAdj(p, p.spec.containers[0], cap), 600);
  });
});

describe('buildContainerConfig', () => {
  it('maps the container and image onto the runtime config', () => {
    const p = pod(
      [
        {
          args: ['--port=$(PORT)'],
          workingDir: '/work',
          tty: true,
          resources: { limits: { cpu: '1500m', memory: '256Mi' }, requests: { cpu: '250m', memory: '128Mi' } },
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } },
        },
      ],
      { securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] } },
    );
    const mounts = [{ kind: 'bind' as const, source: '/data/v', destination: '/v', readOnly: true }];
    const cfg = buildContainerConfig(input(p, { env: ['PORT=8080', 'IMG=2'], mounts, hostname: 'web' }));
    assert.deepEqual(cfg.args, ['/entry', '--port=8080']);
    assert.deepEqual(cfg.env, ['PATH=/usr/bin', 'IMG=2', 'PORT=8080']);
    assert.equal(cfg.cwd, '/work');
    assert.equal(cfg.terminal, true);
    assert.equal(cfg.readOnlyRootfs, true);
    assert.equal(cfg.allowPrivilegeEscalation, false);
    assert.equal(cfg.privileged, false);
    assert.deepEqual(cfg.capabilities, { add: ['NET_ADMIN'], drop: ['ALL'] });
    assert.deepEqual(cfg.resources, { memoryLimitBytes: 256 * 1024 * 1024, cpuLimitMilli: 1500, cpuRequestMilli: 250 });
    assert.deepEqual(cfg.sysctls, { 'net.ipv4.ip_unprivileged_port_start': '0' });
    assert.equal(cfg.oomScoreAdj, 1000 - Math.trunc((1000 * 128 * 1024 * 1024) / (8 * GiB)));
    assert.deepEqual(cfg.mounts, mounts);
    assert.equal(cfg.hostname, 'web');
    assert.equal(cfg.rootfs, 'rootfs');
    assert.equal(cfg.cgroupsPath, '/kubepods/poduid-1/c0');
    assert.deepEqual(cfg.namespaces, { network: { path: '/var/run/netns/x' } });
    assert.deepEqual(cfg.user, { uid: 0, gid: 0, additionalGids: [0] });
  });

  it('uses the image working dir and no cwd when neither sets one', () => {
    assert.equal(buildContainerConfig(input(pod([{}]))).cwd, '/app');
    assert.equal(buildContainerConfig(input(pod([{}]), { imageConfig: { Cmd: ['x'] } })).cwd, undefined);
  });

  it('refuses an invalid quantity', () => {
    assert.throws(
      () => buildContainerConfig(input(pod([{ resources: { limits: { memory: 'lots' } } }]))),
      (e: unknown) => e instanceof ContainerConfigError && e.reason === 'CreateContainerConfigError' && /resources\.limits\.memory/.test(e.message),
    );
  });

  it('takes runAsUser/runAsGroup from the container over the pod, with fsGroup and supplementalGroups', () => {
    const p = pod([{ securityContext: { runAsUser: 1001 } }], { securityContext: { runAsUser: 2000, runAsGroup: 3000, fsGroup: 4000, supplementalGroups: [5000, 3000] } });
    assert.deepEqual(buildContainerConfig(input(p)).user, { uid: 1001, gid: 3000, additionalGids: [3000, 4000, 5000] });
  });

  it('uses the image USER uid but not its group (as Kubernetes with containerd)', () => {
    const p = pod([{}]);
    assert.deepEqual(buildContainerConfig(input(p, { imageConfig: { Cmd: ['x'], User: '1000:1000' } })).user, { uid: 1000, gid: 0, additionalGids: [0] });
    const withGroup = pod([{}], { securityContext: { runAsGroup: 1000 } });
    assert.deepEqual(buildContainerConfig(input(withGroup, { imageConfig: { Cmd: ['x'], User: '1000:1000' } })).user, { uid: 1000, gid: 1000, additionalGids: [1000] });
  });

  it('resolves named users through passwd, and fails when a name is unknown', () => {
    const passwd = (u: string) => (u === 'app' ? { uid: 100, gid: 101, additionalGids: [10] } : u === '7' ? { uid: 7, gid: 70 } : undefined);
    assert.deepEqual(buildContainerConfig(input(pod([{}]), { imageConfig: { Cmd: ['x'], User: 'app' }, passwd })).user, { uid: 100, gid: 101, additionalGids: [10, 101] });
    assert.deepEqual(buildContainerConfig(input(pod([{ securityContext: { runAsUser: 7 } }]), { imageConfig: { Cmd: ['x'], User: 'app' }, passwd })).user, { uid: 7, gid: 70, additionalGids: [70] });
    assert.throws(
      () => buildContainerConfig(input(pod([{}]), { imageConfig: { Cmd: ['x'], User: 'ghost' }, passwd })),
      (e: unknown) => e instanceof ContainerConfigError && e.message === 'unable to find user ghost: no matching entries in passwd file',
    );
  });

  describe('runAsNonRoot (verifyRunAsNonRoot)', () => {
    const where = '(pod: "web_ns1(uid-1)", container: c0)';
    const check = (p: Pod, user: string | undefined, message: string | undefined) => {
      const run = () => buildContainerConfig(input(p, { imageConfig: { Cmd: ['x'], User: user }, passwd: (u) => ({ uid: Number(u) || 100, gid: 0 }) }));
      if (message === undefined) assert.doesNotThrow(run);
      else assert.throws(run, (e: unknown) => e instanceof ContainerConfigError && e.reason === 'CreateContainerConfigError' && e.message === message);
    };
    it('an image without USER runs as root', () => check(pod([{ securityContext: { runAsNonRoot: true } }]), undefined, `container has runAsNonRoot and image will run as root ${where}`));
    it('an image USER 0', () => check(pod([{}], { securityContext: { runAsNonRoot: true } }), '0', `container has runAsNonRoot and image will run as root ${where}`));
    it('a non-numeric image user', () =>
      check(pod([{}], { securityContext: { runAsNonRoot: true } }), 'app', `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root ${where}`));
    it('runAsUser 0', () => check(pod([{ securityContext: { runAsNonRoot: true, runAsUser: 0 } }]), '1000', `container's runAsUser breaks non-root policy ${where}`));
    it('a numeric non-root image user passes', () => check(pod([{ securityContext: { runAsNonRoot: true } }]), '1000:1000', undefined));
    it('runAsUser non-zero passes whatever the image', () => check(pod([{ securityContext: { runAsNonRoot: true, runAsUser: 5 } }]), 'app', undefined));
    it('the container may switch it off', () => check(pod([{ securityContext: { runAsNonRoot: false } }], { securityContext: { runAsNonRoot: true } }), '0', undefined));
  });
});

describe('lookupUser (image /etc/passwd and /etc/group)', () => {
  let dir = '';
  let root = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `cairn-image-user-${process.pid}-`));
    root = join(dir, 'rootfs');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:100:101::/home/app:/bin/sh\nbad:x:notanumber:1::/:/bin/sh\n');
    await writeFile(join(root, 'etc/group'), 'root:x:0:\nwheel:x:10:root,app\napp:x:101:app\nstaff:x:50:app\n');
    // A host file an image's absolute symlink must not reach.
    await writeFile(join(dir, 'host-passwd'), 'evil:x:0:0::/:/bin/sh\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves names, uids and groups', () => {
    assert.deepEqual(lookupUser(root, 'app'), { uid: 100, gid: 101, additionalGids: [10, 50] });
    assert.deepEqual(lookupUser(root, '100'), { uid: 100, gid: 101, additionalGids: [10, 50] });
    assert.deepEqual(lookupUser(root, '0'), { uid: 0, gid: 0, additionalGids: [10] });
    assert.deepEqual(lookupUser(root, '4242'), { uid: 4242, gid: 0, additionalGids: [] });
    assert.deepEqual(lookupUser(root, 'app:staff'), { uid: 100, gid: 50, additionalGids: [10, 50] });
    assert.deepEqual(lookupUser(root, '100:7'), { uid: 100, gid: 7, additionalGids: [10, 50] });
    assert.equal(lookupUser(root, 'ghost'), undefined);
    assert.equal(lookupUser(root, 'app:nogroup'), undefined);
  });

  it('treats a missing passwd file as no entries', () => {
    assert.deepEqual(lookupUser(join(dir, 'nothing'), '5'), { uid: 5, gid: 0, additionalGids: [] });
    assert.equal(lookupUser(join(dir, 'nothing'), 'app'), undefined);
  });

  it('keeps symlinks inside the rootfs', async () => {
    const other = join(dir, 'linked');
    await mkdir(join(other, 'etc'), { recursive: true });
    await mkdir(join(other, 'real'), { recursive: true });
    await writeFile(join(other, 'real/passwd'), 'inside:x:7:7::/:/bin/sh\n');
    // Absolute: resolved against the rootfs, so /real/passwd inside it, never the host's file.
    await symlink(join(dir, 'host-passwd'), join(other, 'etc/passwd'));
    assert.equal(lookupUser(other, 'evil'), undefined);
    await rm(join(other, 'etc/passwd'));
    await symlink('/real/passwd', join(other, 'etc/passwd'));
    assert.deepEqual(lookupUser(other, 'inside'), { uid: 7, gid: 7, additionalGids: [] });
    await rm(join(other, 'etc/passwd'));
    await symlink('../../../../../../real/passwd', join(other, 'etc/passwd'));
    assert.deepEqual(lookupUser(other, 'inside'), { uid: 7, gid: 7, additionalGids: [] });
  });
});
