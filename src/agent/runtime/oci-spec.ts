/**
 * Builds an OCI runtime spec (a bundle's config.json) from a typed container description.
 * A pure function: no file system, no host probing — whatever depends on the host (cgroup
 * version, swap accounting, the sandbox's namespace paths) is passed in.
 *
 * Defaults follow what containerd's CRI plugin gives a kubelet's container (the behaviour a
 * pod expects), with runc's own `runc spec` where containerd does not differ:
 * - capabilities: containerd's default set of 14 (DEFAULT_CAPABILITIES); runc's bare `runc spec`
 *   has only 3, which is not what any Kubernetes container sees;
 * - mounts: proc, /dev tmpfs, devpts, /dev/shm (64 MiB), mqueue, sysfs (ro), cgroup (ro);
 * - maskedPaths / readonlyPaths: runc's `runc spec` lists;
 * - devices: deny all; runc itself adds its default allow-list (null, zero, full, tty, random,
 *   urandom, ptmx, pts) and creates those nodes in /dev; a block volume's device is added to
 *   linux.devices at its devicePath and allowed in the device cgroup (`rm` when read-only);
 * - seccomp: none — the container runs Unconfined, which is also the Kubernetes default when
 *   the pod asks for no seccompProfile (kubelet --seccomp-default=false). RuntimeDefault is a
 *   later step;
 * - AppArmor/SELinux: none.
 */

/** The OCI types Cairn writes (a subset of runtime-spec 1.0.2, which runc 1.1 implements). */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: OciLinux;
}
export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] };
  rlimits: { type: string; hard: number; soft: number }[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}
export interface OciNamespace {
  type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup' | 'user';
  path?: string;
}
export interface OciDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}
export interface OciResources {
  devices: OciDeviceRule[];
  memory?: { limit?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number };
  pids?: { limit: number };
}
export interface OciDevice {
  path: string;
  type: 'b' | 'c';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}
export interface OciLinux {
  resources: OciResources;
  /** Device nodes runc creates in the container's /dev (each also allowed in the device cgroup). */
  devices?: OciDevice[];
  cgroupsPath: string;
  namespaces: OciNamespace[];
  maskedPaths: string[];
  readonlyPaths: string[];
  sysctl?: Record<string, string>;
}

/** A namespace: a new one, one to join by path (e.g. /var/run/netns/X or /proc/PID/ns/pid), or the host's. */
export type NamespaceChoice = 'new' | 'host' | { path: string };

export type ContainerMount =
  | {
      kind: 'bind';
      source: string;
      destination: string;
      readOnly?: boolean;
      /** Mount propagation as Kubernetes names it. Default None (rprivate). */
      propagation?: 'None' | 'HostToContainer' | 'Bidirectional';
    }
  | { kind: 'tmpfs'; destination: string; sizeBytes?: number; mode?: number; readOnly?: boolean };

/** A host device handed to the container at `path` (a block volume's volumeDevices[].devicePath). */
export interface ContainerDevice {
  path: string;
  type: 'b' | 'c';
  major: number;
  minor: number;
  /** Device cgroup access: read-only devices get `rm`, others `rwm`. */
  readOnly?: boolean;
}

export interface ContainerResources {
  /** limits.memory in bytes; OOM kill above it. */
  memoryLimitBytes?: number;
  /** limits.cpu in millicores → CFS quota. */
  cpuLimitMilli?: number;
  /** requests.cpu in millicores → cpu shares (2 when absent, as the kubelet does). */
  cpuRequestMilli?: number;
  /** CFS period, µs. Default 100000 (the kubelet's). */
  cpuPeriodMicros?: number;
  pidsLimit?: number;
  /**
   * Whether to set memory+swap equal to the memory limit (no swap for the container, as the
   * kubelet does by default). Needs swap accounting on cgroup v1 (memory.memsw.* present).
   * Default true.
   */
  noSwap?: boolean;
}

export interface ContainerConfig {
  /** The process's argv (command + args, already resolved against the image's entrypoint/cmd). */
  args: string[];
  /** `KEY=value` entries; a default PATH is added when none is given (as containerd does). */
  env?: string[];
  /** Working directory. Default `/`. */
  cwd?: string;
  /** runAsUser/runAsGroup/supplementalGroups. Default 0:0. */
  user?: { uid: number; gid: number; additionalGids?: number[] };
  terminal?: boolean;
  /** Root file system path, absolute or relative to the bundle. Default `rootfs`. */
  rootfs?: string;
  readOnlyRootfs?: boolean;
  /** Needs its own UTS namespace. */
  hostname?: string;
  privileged?: boolean;
  /** Kubernetes-style names (`NET_ADMIN`, also accepted with a `CAP_` prefix); `ALL` allowed. */
  capabilities?: { add?: string[]; drop?: string[] };
  /** securityContext.allowPrivilegeEscalation; false sets noNewPrivileges. Default true. */
  allowPrivilegeEscalation?: boolean;
  /** Mounts added to (or, same destination, replacing) the defaults. */
  mounts?: ContainerMount[];
  /** Size of the default /dev/shm tmpfs. Default 64 MiB. */
  shmSizeBytes?: number;
  namespaces?: {
    /** Default 'new'. For a pod: { path: the sandbox's netns }. */
    network?: NamespaceChoice;
    /** Default 'new'. shareProcessNamespace: { path: /proc/<first>/ns/pid }. */
    pid?: NamespaceChoice;
    ipc?: NamespaceChoice;
    uts?: NamespaceChoice;
    /** A private cgroup namespace (what containerd does on cgroup v2). Default false. */
    cgroup?: boolean;
  };
  /** cgroupsPath as runc takes it (cgroupfs driver: an absolute path under the hierarchy). */
  cgroupsPath: string;
  resources?: ContainerResources;
  oomScoreAdj?: number;
  /** Default: none — the container inherits the runtime's limits, as under containerd's CRI. */
  rlimits?: { type: string; hard: number; soft: number }[];
  sysctls?: Record<string, string>;
  annotations?: Record<string, string>;
  devices?: ContainerDevice[];
}

/** containerd's (and Docker's) default capability set for containers. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability Linux defines (through 6.x), for privileged containers and `add: [ALL]`. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** runc's `runc spec` masked and read-only paths. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_CPU_PERIOD = 100_000;
/** The kubelet's constants (pkg/kubelet/cm/helpers_linux.go). */
export const MIN_SHARES = 2;
export const MAX_SHARES = 262_144;
export const SHARES_PER_CPU = 1024;
export const MILLI_CPU_TO_CPU = 1000;
export const MIN_QUOTA_PERIOD = 1000;

/** cpu.shares from requests.cpu, exactly as the kubelet's MilliCPUToShares. */
export function milliCpuToShares(milliCPU: number | undefined): number {
  if (!milliCPU || milliCPU <= 0) return MIN_SHARES;
  const shares = Math.floor((milliCPU * SHARES_PER_CPU) / MILLI_CPU_TO_CPU);
  if (shares < MIN_SHARES) return MIN_SHARES;
  if (shares > MAX_SHARES) return MAX_SHARES;
  return shares;
}

/** CFS quota (µs) from limits.cpu, as the kubelet's MilliCPUToQuota; 0 means no limit. */
export function milliCpuToQuota(milliCPU: number | undefined, period = DEFAULT_CPU_PERIOD): number {
  if (!milliCPU || milliCPU <= 0) return 0;
  const quota = Math.floor((milliCPU * period) / MILLI_CPU_TO_CPU);
  return quota < MIN_QUOTA_PERIOD ? MIN_QUOTA_PERIOD : quota;
}

/** Normalizes a Kubernetes capability name to OCI's (`chown` / `CAP_CHOWN` → `CAP_CHOWN`). */
export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  return up.startsWith('CAP_') ? up : `CAP_${up}`;
}

/** The capability set after add/drop, with containerd's rules: add (ALL = every cap), then drop (ALL = none, then the explicit adds). */
export function resolveCapabilities(caps: ContainerConfig['capabilities'], privileged: boolean): string[] {
  if (privileged) return [...ALL_CAPABILITIES];
  const add = (caps?.add ?? []).map(normalizeCapability);
  const drop = (caps?.drop ?? []).map(normalizeCapability);
  let set = new Set<string>(DEFAULT_CAPABILITIES);
  if (add.includes('ALL')) set = new Set(ALL_CAPABILITIES);
  if (drop.includes('ALL')) set = new Set();
  for (const c of add) if (c !== 'ALL') set.add(c);
  for (const c of drop) if (c !== 'ALL') set.delete(c);
  // Keep a stable order: known caps in kernel order, unknown ones after.
  const known = ALL_CAPABILITIES.filter((c) => set.has(c));
  const unknown = [...set].filter((c) => !ALL_CAPABILITIES.includes(c)).sort();
  return [...known, ...unknown];
}

export class SpecError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'SpecError';
  }
}

function defaultMounts(privileged: boolean, shmSize: number): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'],
    },
  ];
}

const PROPAGATION: Record<string, string> = { None: 'rprivate', HostToContainer: 'rslave', Bidirectional: 'rshared' };

function toOciMount(m: ContainerMount, i: number): OciMount {
  if (!m.destination.startsWith('/')) throw new SpecError('must be an absolute path', `mounts[${i}].destination`);
  if (m.kind === 'bind') {
    if (!m.source.startsWith('/')) throw new SpecError('must be an absolute path', `mounts[${i}].source`);
    return {
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', m.readOnly ? 'ro' : 'rw', PROPAGATION[m.propagation ?? 'None'] ?? 'rprivate'],
    };
  }
  const opts = ['nosuid', 'nodev', `mode=${(m.mode ?? 0o1777).toString(8).padStart(4, '0')}`];
  if (m.sizeBytes !== undefined) {
    if (!Number.isInteger(m.sizeBytes) || m.sizeBytes <= 0) throw new SpecError('must be a positive integer', `mounts[${i}].sizeBytes`);
    opts.push(`size=${m.sizeBytes}`);
  }
  if (m.readOnly) opts.push('ro');
  return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: opts };
}

function namespace(type: OciNamespace['type'], choice: NamespaceChoice | undefined): OciNamespace | null {
  const c = choice ?? 'new';
  if (c === 'host') return null;
  if (c === 'new') return { type };
  if (!c.path.startsWith('/')) throw new SpecError('namespace path must be absolute', `namespaces.${type}`);
  return { type, path: c.path };
}

const positiveInt = (v: number | undefined, field: string) => {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v <= 0) throw new SpecError(`must be a positive integer, got ${v}`, field);
};

/** The OCI runtime spec for one container. Throws SpecError on input it cannot express. */
export function buildOciSpec(c: ContainerConfig): OciSpec {
  if (!c.args.length) throw new SpecError('must not be empty', 'args');
  if (!c.cgroupsPath) throw new SpecError('required', 'cgroupsPath');
  const privileged = c.privileged ?? false;
  const r = c.resources ?? {};
  positiveInt(r.memoryLimitBytes, 'resources.memoryLimitBytes');
  positiveInt(r.pidsLimit, 'resources.pidsLimit');
  positiveInt(r.cpuPeriodMicros, 'resources.cpuPeriodMicros');
  if (r.cpuLimitMilli !== undefined && !(r.cpuLimitMilli > 0)) throw new SpecError('must be positive', 'resources.cpuLimitMilli');
  if (r.cpuRequestMilli !== undefined && !(r.cpuRequestMilli >= 0)) throw new SpecError('must not be negative', 'resources.cpuRequestMilli');
  if (c.oomScoreAdj !== undefined && (!Number.isInteger(c.oomScoreAdj) || c.oomScoreAdj < -1000 || c.oomScoreAdj > 1000))
    throw new SpecError('must be an integer in [-1000, 1000]', 'oomScoreAdj');
  if (c.user) {
    for (const [k, v] of [['uid', c.user.uid], ['gid', c.user.gid]] as const)
      if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) throw new SpecError('must be a valid id', `user.${k}`);
  }
  if (c.cwd !== undefined && !c.cwd.startsWith('/')) throw new SpecError('must be an absolute path', 'cwd');

  const ns = c.namespaces ?? {};
  const namespaces: OciNamespace[] = [];
  for (const [type, choice] of [
    ['pid', ns.pid],
    ['network', ns.network],
    ['ipc', ns.ipc],
    ['uts', ns.uts],
  ] as const) {
    const n = namespace(type, choice);
    if (n) namespaces.push(n);
  }
  namespaces.push({ type: 'mount' });
  if (ns.cgroup) namespaces.push({ type: 'cgroup' });
  if (c.hostname !== undefined && (ns.uts ?? 'new') !== 'new')
    throw new SpecError('a hostname needs the container to have its own UTS namespace', 'hostname');

  // Mounts: defaults, with user mounts on the same destination replacing them (as containerd does).
  const userMounts = (c.mounts ?? []).map(toOciMount);
  const userDest = new Set(userMounts.map((m) => m.destination.replace(/\/+$/, '') || '/'));
  const mounts = [...defaultMounts(privileged, c.shmSizeBytes ?? 64 * 1024 * 1024).filter((m) => !userDest.has(m.destination)), ...userMounts];

  const env = [...(c.env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);

  const caps = resolveCapabilities(c.capabilities, privileged);
  const noNewPrivileges = privileged ? false : c.allowPrivilegeEscalation === false;

  const resources: OciResources = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
  };
  (c.devices ?? []).forEach((d, i) => {
    if (!d.path.startsWith('/')) throw new SpecError('must be an absolute path', `devices[${i}].path`);
    for (const [k, v] of [['major', d.major], ['minor', d.minor]] as const) if (!Number.isInteger(v) || v < 0) throw new SpecError('must be a device number', `devices[${i}].${k}`);
    resources.devices.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.readOnly ? 'rm' : 'rwm' });
  });
  if (r.memoryLimitBytes !== undefined) {
    resources.memory = { limit: r.memoryLimitBytes };
    if (r.noSwap ?? true) resources.memory.swap = r.memoryLimitBytes;
  }
  const period = r.cpuPeriodMicros ?? DEFAULT_CPU_PERIOD;
  resources.cpu = { shares: milliCpuToShares(r.cpuRequestMilli) };
  const quota = milliCpuToQuota(r.cpuLimitMilli, period);
  if (quota > 0) {
    resources.cpu.quota = quota;
    resources.cpu.period = period;
  }
  if (r.pidsLimit !== undefined) resources.pids = { limit: r.pidsLimit };

  const process: OciProcess = {
    terminal: c.terminal ?? false,
    user: { uid: c.user?.uid ?? 0, gid: c.user?.gid ?? 0 },
    args: [...c.args],
    env,
    cwd: c.cwd ?? '/',
    capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
    rlimits: (c.rlimits ?? []).map((l) => ({ ...l })),
    noNewPrivileges,
  };
  if (c.user?.additionalGids?.length) process.user.additionalGids = [...c.user.additionalGids];
  if (c.oomScoreAdj !== undefined) process.oomScoreAdj = c.oomScoreAdj;

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process,
    root: { path: c.rootfs ?? 'rootfs', readonly: c.readOnlyRootfs ?? false },
    mounts,
    linux: {
      resources,
      cgroupsPath: c.cgroupsPath,
      namespaces,
      maskedPaths: privileged ? [] : [...DEFAULT_MASKED_PATHS],
      readonlyPaths: privileged ? [] : [...DEFAULT_READONLY_PATHS],
    },
  };
  if (c.devices?.length) spec.linux.devices = c.devices.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: 0o660, uid: 0, gid: 0 }));
  if (c.hostname !== undefined) spec.hostname = c.hostname;
  if (c.sysctls && Object.keys(c.sysctls).length) spec.linux.sysctl = { ...c.sysctls };
  if (c.annotations && Object.keys(c.annotations).length) spec.annotations = { ...c.annotations };
  return spec;
}
