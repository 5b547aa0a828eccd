/**
 * Pure unit tests (no root needed) for the OCI spec builder, the CRI log format, the cgroup
 * mount parser and runc output parsing. Kept with the runtime-* files.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroupDirs, cgroupMounts } from '../../src/agent/runtime/cgroups.js';
import { CriLineWriter, formatTimestamp, parseCriLine, parseCriLog } from '../../src/agent/runtime/cri-log.js';
import {
  ALL_CAPABILITIES,
  buildOciSpec,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  milliCpuToQuota,
  milliCpuToShares,
  resolveCapabilities,
  SpecError,
} from '../../src/agent/runtime/oci-spec.js';
import { parseStats, runcErrorLine, signalNumber } from '../../src/agent/runtime/runc.js';

const base = { args: ['sh'], cgroupsPath: '/cairn/pod1/c1' };

describe('buildOciSpec', () => {
  it('has containerd-like defaults', () => {
    const s = buildOciSpec(base);
    assert.equal(s.ociVersion, '1.0.2-dev');
    assert.deepEqual(s.root, { path: 'rootfs', readonly: false });
    assert.deepEqual(s.process.user, { uid: 0, gid: 0 });
    assert.equal(s.process.cwd, '/');
    assert.equal(s.process.terminal, false);
    assert.deepEqual(s.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    assert.deepEqual(s.process.capabilities.bounding, ALL_CAPABILITIES.filter((c) => DEFAULT_CAPABILITIES.includes(c)));
    assert.equal(s.process.capabilities.bounding.length, 14);
    assert.deepEqual(s.process.capabilities.inheritable, []);
    assert.deepEqual(s.process.capabilities.ambient, []);
    assert.equal(s.process.noNewPrivileges, false);
    assert.deepEqual(s.process.rlimits, []);
    assert.equal(s.process.oomScoreAdj, undefined);
    assert.deepEqual(
      s.mounts.map((m) => [m.destination, m.type]),
      [
        ['/proc', 'proc'],
        ['/dev', 'tmpfs'],
        ['/dev/pts', 'devpts'],
        ['/dev/shm', 'tmpfs'],
        ['/dev/mqueue', 'mqueue'],
        ['/sys', 'sysfs'],
        ['/sys/fs/cgroup', 'cgroup'],
      ],
    );
    assert.ok(s.mounts.find((m) => m.destination === '/sys')!.options.includes('ro'));
    assert.ok(s.mounts.find((m) => m.destination === '/dev/shm')!.options.includes(`size=${64 * 1024 * 1024}`));
    assert.deepEqual(s.linux.namespaces, [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }]);
    assert.deepEqual(s.linux.maskedPaths, DEFAULT_MASKED_PATHS);
    assert.deepEqual(s.linux.readonlyPaths, DEFAULT_READONLY_PATHS);
    assert.deepEqual(s.linux.resources, { devices: [{ allow: false, access: 'rwm' }], cpu: { shares: 2 } });
    assert.equal(s.linux.cgroupsPath, '/cairn/pod1/c1');
    assert.equal(s.hostname, undefined);
    assert.equal((s as unknown as { linux: { seccomp?: unknown } }).linux.seccomp, undefined, 'seccomp unconfined');
  });

  it('maps process, user, security and resources', () => {
    const s = buildOciSpec({
      ...base,
      args: ['/app', '--flag'],
      env: ['PATH=/x', 'A=b'],
      cwd: '/work',
      user: { uid: 1000, gid: 3000, additionalGids: [4000, 5000] },
      readOnlyRootfs: true,
      hostname: 'web-0',
      allowPrivilegeEscalation: false,
      capabilities: { add: ['net_admin', 'CAP_SYS_TIME'], drop: ['CHOWN', 'cap_kill'] },
      resources: { memoryLimitBytes: 128 * 1024 * 1024, cpuLimitMilli: 500, cpuRequestMilli: 250, pidsLimit: 100 },
      oomScoreAdj: -997,
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }],
      sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
      annotations: { 'io.kubernetes.pod.name': 'p' },
    });
    assert.deepEqual(s.process.args, ['/app', '--flag']);
    assert.deepEqual(s.process.env, ['PATH=/x', 'A=b']);
    assert.equal(s.process.cwd, '/work');
    assert.deepEqual(s.process.user, { uid: 1000, gid: 3000, additionalGids: [4000, 5000] });
    assert.equal(s.root.readonly, true);
    assert.equal(s.hostname, 'web-0');
    assert.equal(s.process.noNewPrivileges, true);
    const caps = s.process.capabilities.effective;
    assert.ok(caps.includes('CAP_NET_ADMIN') && caps.includes('CAP_SYS_TIME'));
    assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_KILL'));
    assert.equal(caps.length, 14);
    assert.deepEqual(s.linux.resources.memory, { limit: 134217728, swap: 134217728 });
    assert.deepEqual(s.linux.resources.cpu, { shares: 256, quota: 50000, period: 100000 });
    assert.deepEqual(s.linux.resources.pids, { limit: 100 });
    assert.equal(s.process.oomScoreAdj, -997);
    assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }]);
    assert.deepEqual(s.linux.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0' });
    assert.deepEqual(s.annotations, { 'io.kubernetes.pod.name': 'p' });
    // noSwap: false leaves swap alone (hosts without swap accounting).
    assert.deepEqual(buildOciSpec({ ...base, resources: { memoryLimitBytes: 1 << 20, noSwap: false } }).linux.resources.memory, { limit: 1 << 20 });
  });

  it('computes cpu shares and quota exactly as the kubelet', () => {
    assert.equal(milliCpuToShares(undefined), 2);
    assert.equal(milliCpuToShares(0), 2);
    assert.equal(milliCpuToShares(1), 2); // 1*1024/1000 = 1 → min 2
    assert.equal(milliCpuToShares(2), 2);
    assert.equal(milliCpuToShares(3), 3);
    assert.equal(milliCpuToShares(100), 102);
    assert.equal(milliCpuToShares(1000), 1024);
    assert.equal(milliCpuToShares(1500), 1536);
    assert.equal(milliCpuToShares(1_000_000), 262144);
    assert.equal(milliCpuToQuota(0), 0);
    assert.equal(milliCpuToQuota(1), 1000); // below the minimum quota period
    assert.equal(milliCpuToQuota(250), 25000);
    assert.equal(milliCpuToQuota(2000), 200000);
    assert.equal(milliCpuToQuota(100, 50000), 5000);
  });

  it('resolves capabilities like containerd (add, drop, ALL, privileged)', () => {
    assert.deepEqual(resolveCapabilities({ drop: ['ALL'] }, false), []);
    assert.deepEqual(resolveCapabilities({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] }, false), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(resolveCapabilities({ add: ['ALL'] }, false), [...ALL_CAPABILITIES]);
    assert.deepEqual(resolveCapabilities({ add: ['ALL'], drop: ['SYS_ADMIN'] }, false), ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_ADMIN'));
    assert.deepEqual(resolveCapabilities({ add: ['NET_ADMIN'], drop: ['NET_ADMIN'] }, false).includes('CAP_NET_ADMIN'), false);
    assert.deepEqual(resolveCapabilities({ drop: ['ALL'] }, true), [...ALL_CAPABILITIES]);
  });

  it('privileged: every capability, no masked paths, rw sysfs and cgroup, all devices, escalation allowed', () => {
    const s = buildOciSpec({ ...base, privileged: true, allowPrivilegeEscalation: false });
    assert.equal(s.process.capabilities.bounding.length, ALL_CAPABILITIES.length);
    assert.deepEqual(s.linux.maskedPaths, []);
    assert.deepEqual(s.linux.readonlyPaths, []);
    assert.ok(s.mounts.find((m) => m.destination === '/sys')!.options.includes('rw'));
    assert.ok(s.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options.includes('rw'));
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(s.process.noNewPrivileges, false);
  });

  it('builds bind and tmpfs mounts; a user mount replaces the default at the same place', () => {
    const s = buildOciSpec({
      ...base,
      mounts: [
        { kind: 'bind', source: '/var/lib/cairn/pods/x/volumes/cfg', destination: '/etc/cfg', readOnly: true },
        { kind: 'bind', source: '/data', destination: '/data', propagation: 'HostToContainer' },
        { kind: 'tmpfs', destination: '/cache', sizeBytes: 1048576 },
        { kind: 'bind', source: '/run/cairn/sandbox/shm', destination: '/dev/shm' },
      ],
    });
    const by = (d: string) => s.mounts.filter((m) => m.destination === d);
    assert.deepEqual(by('/etc/cfg'), [{ destination: '/etc/cfg', type: 'bind', source: '/var/lib/cairn/pods/x/volumes/cfg', options: ['rbind', 'ro', 'rprivate'] }]);
    assert.deepEqual(by('/data')[0].options, ['rbind', 'rw', 'rslave']);
    assert.deepEqual(by('/cache'), [{ destination: '/cache', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=1048576'] }]);
    assert.equal(by('/dev/shm').length, 1);
    assert.equal(by('/dev/shm')[0].type, 'bind');
  });

  it('joins namespaces by path, shares or uses the host, and refuses impossible combinations', () => {
    const s = buildOciSpec({
      ...base,
      namespaces: { network: { path: '/var/run/netns/cairn-pod-1' }, pid: { path: '/proc/123/ns/pid' }, ipc: { path: '/proc/123/ns/ipc' }, cgroup: true },
    });
    assert.deepEqual(s.linux.namespaces, [
      { type: 'pid', path: '/proc/123/ns/pid' },
      { type: 'network', path: '/var/run/netns/cairn-pod-1' },
      { type: 'ipc', path: '/proc/123/ns/ipc' },
      { type: 'uts' },
      { type: 'mount' },
      { type: 'cgroup' },
    ]);
    const host = buildOciSpec({ ...base, namespaces: { network: 'host', pid: 'host', ipc: 'host' } });
    assert.deepEqual(host.linux.namespaces, [{ type: 'uts' }, { type: 'mount' }]);
    assert.throws(() => buildOciSpec({ ...base, hostname: 'x', namespaces: { uts: 'host' } }), SpecError);
    assert.throws(() => buildOciSpec({ ...base, namespaces: { network: { path: 'relative' } } }), /absolute/);
    assert.throws(() => buildOciSpec({ ...base, args: [] }), /args/);
    assert.throws(() => buildOciSpec({ ...base, resources: { memoryLimitBytes: -1 } }), /memoryLimitBytes/);
    assert.throws(() => buildOciSpec({ ...base, resources: { cpuLimitMilli: 0 } }), /cpuLimitMilli/);
    assert.throws(() => buildOciSpec({ ...base, oomScoreAdj: 1001 }), /oomScoreAdj/);
    assert.throws(() => buildOciSpec({ ...base, user: { uid: -1, gid: 0 } }), /user.uid/);
    assert.throws(() => buildOciSpec({ ...base, cwd: 'rel' }), /cwd/);
    assert.throws(() => buildOciSpec({ ...base, mounts: [{ kind: 'tmpfs', destination: '/t', sizeBytes: 0 }] }), /sizeBytes/);
  });

  it('does not share arrays with its input', () => {
    const input = { ...base, args: ['a'], env: ['A=1'] };
    const s = buildOciSpec(input);
    s.process.args.push('b');
    s.process.env.push('B=2');
    assert.deepEqual(input.args, ['a']);
    assert.deepEqual(input.env, ['A=1']);
  });
});

describe('CRI log format', () => {
  const collect = (max?: number) => {
    const lines: string[] = [];
    const w = new CriLineWriter(-1, 'stdout', max, (_fd, b) => lines.push(b.toString()));
    return { w, lines };
  };

  it('formats RFC 3339 timestamps with nine fractional digits', () => {
    assert.equal(formatTimestamp(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
    assert.equal(formatTimestamp(1_700_000_000_000_000_001n), '2023-11-14T22:13:20.000000001Z');
    assert.match(formatTimestamp(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('splits chunks into full lines, buffers the rest, ends with a full line', () => {
    const { w, lines } = collect();
    w.push(Buffer.from('one\ntw'));
    w.push(Buffer.from('o\n\nthree'));
    assert.equal(lines.length, 3);
    w.end();
    const parsed = parseCriLog(lines.join(''));
    assert.deepEqual(parsed.map((e) => [e.stream, e.partial, e.content]), [
      ['stdout', false, 'one'],
      ['stdout', false, 'two'],
      ['stdout', false, ''],
      ['stdout', false, 'three'],
    ]);
  });

  it('cuts long lines into P pieces ending with an F piece', () => {
    const { w, lines } = collect(4);
    w.push(Buffer.from('abcdefghij\nxy'));
    w.push(Buffer.from('zw\n'));
    w.end();
    const parsed = lines.map((l) => parseCriLine(l)!);
    assert.deepEqual(parsed.map((e) => [e.partial, e.content]), [
      [true, 'abcd'],
      [true, 'efgh'],
      [false, 'ij'],
      [false, 'xyzw'],
    ]);
  });

  it('parses lines and rejects garbage', () => {
    const e = parseCriLine('2026-01-02T03:04:05.123456789Z stderr F hello world')!;
    assert.equal(e.stream, 'stderr');
    assert.equal(e.partial, false);
    assert.equal(e.content, 'hello world');
    assert.equal(e.time.toISOString(), '2026-01-02T03:04:05.123Z');
    assert.equal(parseCriLine('2026-01-02T03:04:05Z stdout F ')!.content, '');
    assert.equal(parseCriLine('nonsense'), null);
    assert.equal(parseCriLine('notatime stdout F x'), null);
  });
});

describe('cgroup and runc helpers', () => {
  it('parses hybrid cgroup mounts', () => {
    const mi = [
      '35 24 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
      '36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
      '38 35 0:33 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
      '39 35 0:34 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct',
      '40 35 0:35 / /sys/fs/cgroup/systemd rw shared:16 - cgroup cgroup rw,xattr,name=systemd',
    ].join('\n');
    const m = cgroupMounts(mi);
    assert.equal(m.mode, 'hybrid');
    assert.equal(m.v2, '/sys/fs/cgroup/unified');
    assert.equal(m.v1.get('memory'), '/sys/fs/cgroup/memory');
    assert.equal(m.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.deepEqual(cgroupDirs('/cairn/p/c', m).sort(), [
      '/sys/fs/cgroup/cpu,cpuacct/cairn/p/c',
      '/sys/fs/cgroup/memory/cairn/p/c',
      '/sys/fs/cgroup/systemd/cairn/p/c',
      '/sys/fs/cgroup/unified/cairn/p/c',
    ]);
    assert.equal(cgroupMounts('30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw').mode, 'v2');
  });

  it('parses runc errors, stats and signals', () => {
    assert.equal(
      runcErrorLine('time="2026-11-20T23:23:42Z" level=error msg="runc run failed: exec: \\"sh\\": executable file not found in $PATH"\n'),
      'runc run failed: exec: "sh": executable file not found in $PATH',
    );
    assert.equal(runcErrorLine('plain output'), null);
    const st = parseStats({
      cpu: { usage: { total: 5, user: 3, kernel: 2 }, throttling: { throttledPeriods: 1, throttledTime: 9 } },
      memory: { usage: { usage: 1000, max: 2000, limit: 9223372036854771712, failcnt: 0 }, raw: { total_inactive_file: 300 } },
      pids: { current: 2, limit: 0 },
    });
    assert.equal(st.cpuUsageNanos, 5);
    assert.equal(st.memoryLimitBytes, 0);
    assert.equal(st.memoryWorkingSetBytes, 700);
    assert.equal(st.pidsCurrent, 2);
    assert.equal(signalNumber('SIGKILL'), 9);
    assert.equal(signalNumber('SIGTERM'), 15);
  });
});
