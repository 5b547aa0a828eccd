/**
 * A pod's sandbox: what its containers share. Its own network namespace (a veth on the node
 * bridge, an address from the node's IPAM) unless hostNetwork — then the node's namespace —
 * and the kubelet-managed /etc/hosts, /etc/resolv.conf and /etc/hostname files.
 *
 * With shareProcessNamespace there is also a "pause" process whose pid namespace every
 * container joins (so it outlives any one of them), as the kubelet's pause container: a
 * detached runc container running the host's static busybox `sleep`. Pods without it need no
 * pause at all — each container gets a private pid, IPC and UTS namespace with the pod's
 * hostname — which saves one process per pod.
 */
import { copyFile, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PodNetwork, PodNetworkStatus } from '../../net/pod-network.js';
import { buildOciSpec } from '../runtime/oci-spec.js';
import { ContainerNotFoundError, type Runc } from '../runtime/runc.js';
import { etcHostsContent, podHostnameAndDomain, resolvConfContent } from './etc-files.js';
import type { Pod } from './api-types.js';
import type { PodRecords } from './pod-records.js';
import { handoffIPOf } from '../pod-ip-handoff.js';

export const PAUSE_BINARY = '/bin/busybox';

export interface SandboxOptions {
  records: PodRecords;
  network: PodNetwork;
  runc: Runc;
  /** The node's network namespace name; undefined on a real host (the root namespace). */
  nodeNetns?: string;
  nodeName: string;
  /** The node's InternalIP (hostNetwork pods' address). */
  nodeIP: string;
  clusterDNS: string[];
  clusterDomain: string;
  /** cgroup path for a pod's pause process. */
  cgroupPath: (pod: Pod) => string;
  /** Told after a pod's network is torn down (pod IP handoff drops its Node entry). */
  onNetworkRemoved?: (uid: string) => void;
  /** The pod's secondary interfaces (Multus' networks annotation), made after its cluster network. */
  attachments?: {
    ensure(pod: Pod, primary: PodNetworkStatus): Promise<void>;
    remove(uid: string): Promise<void>;
  };
}

export interface Sandbox {
  podIP: string;
  /** The network namespace containers join. */
  netnsPath: string;
  /** /proc/<pid>/ns/pid of the pause process when the pod shares its process namespace. */
  pidNsPath?: string;
  hostname: string;
  files: { hosts: string; resolvConf: string; hostname: string };
}

/** How long a pod's network, once set up, is trusted without a full check. */
const NETWORK_RECHECK_MS = 5 * 60_000;

export class PodSandboxes {
  private readonly networks = new Map<string, { podIP: string; netnsPath: string; checkedAt: number }>();

  constructor(private readonly opts: SandboxOptions) {}

  private netnsPathOf(name: string): string {
    return `/run/netns/${name}`;
  }

  /** Makes (or finds) the sandbox. Idempotent. */
  async ensure(pod: Pod): Promise<Sandbox> {
    const uid = pod.metadata.uid!;
    let podIP: string;
    let netnsPath: string;
    if (pod.spec.hostNetwork) {
      podIP = this.opts.nodeIP;
      netnsPath = this.opts.nodeNetns ? this.netnsPathOf(this.opts.nodeNetns) : '/proc/1/ns/net';
    } else {
      // The network is set up once and then trusted while its namespace exists (re-checked in
      // full every few minutes): a sync every 10 s must not cost ten `ip` processes per pod.
      const known = this.networks.get(uid);
      if (known && existsSync(known.netnsPath) && Date.now() - known.checkedAt < NETWORK_RECHECK_MS) {
        ({ podIP, netnsPath } = known);
      } else {
        // A migration target takes over its source pod's address (pod IP handoff).
        const handoffIP = handoffIPOf(pod);
        const net: PodNetworkStatus = await this.opts.network.setup({ id: uid }, { pod: `${pod.metadata.namespace}/${pod.metadata.name}` }, { handoffIP });
        await this.opts.attachments?.ensure(pod, net);
        podIP = net.podIP;
        netnsPath = this.netnsPathOf(net.netns);
        this.networks.set(uid, { podIP, netnsPath, checkedAt: Date.now() });
      }
    }
    const hostname = pod.spec.hostNetwork ? this.opts.nodeName : podHostnameAndDomain(pod, this.opts.clusterDomain).hostname;
    const files = await this.writeFiles(pod, podIP, hostname);
    const pidNsPath = pod.spec.shareProcessNamespace ? await this.ensurePause(pod, netnsPath, hostname) : undefined;
    return { podIP, netnsPath, pidNsPath, hostname, files };
  }

  /** The pod IP of an existing sandbox, without making anything (status after a restart). */
  async podIP(pod: Pod): Promise<string | undefined> {
    if (pod.spec.hostNetwork) return this.opts.nodeIP;
    const known = this.networks.get(pod.metadata.uid!);
    if (known) return known.podIP;
    return (await this.opts.network.status({ id: pod.metadata.uid! }))?.podIP;
  }

  async remove(uid: string): Promise<void> {
    this.networks.delete(uid);
    await this.removePause(uid);
    await this.opts.attachments?.remove(uid);
    await this.opts.network.teardown({ id: uid });
    this.opts.onNetworkRemoved?.(uid);
  }

  private async writeFiles(pod: Pod, podIP: string, hostname: string): Promise<Sandbox['files']> {
    const dir = this.opts.records.etcDir(pod.metadata.uid!);
    await mkdir(dir, { recursive: true });
    const hosts = join(dir, 'hosts');
    const resolvConf = join(dir, 'resolv.conf');
    const hostnameFile = join(dir, 'hostname');
    const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const nodeHostsFile = pod.spec.hostNetwork ? await readFile('/etc/hosts', 'utf8').catch(() => '') : undefined;
    await writeIfChanged(hosts, etcHostsContent(pod, podIP, pod.spec.hostAliases, { clusterDomain: this.opts.clusterDomain, nodeHostsFile }));
    await writeIfChanged(resolvConf, resolvConfContent(pod, { clusterDNS: this.opts.clusterDNS, clusterDomain: this.opts.clusterDomain, hostResolvConf: hostResolv }));
    await writeIfChanged(hostnameFile, `${hostname}\n`);
    return { hosts, resolvConf, hostname: hostnameFile };
  }

  private pauseId(uid: string): string {
    return `${uid}-pause`;
  }

  private async ensurePause(pod: Pod, netnsPath: string, hostname: string): Promise<string> {
    const uid = pod.metadata.uid!;
    const id = this.pauseId(uid);
    const runc = this.opts.runc;
    const st = await runc.stateOrNull(id);
    if (st && st.status === 'running') return `/proc/${st.pid}/ns/pid`;
    if (st) await runc.delete(id, { force: true });
    const bundle = this.opts.records.bundleDir(id, uid);
    const rootfs = join(bundle, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    for (const d of ['proc', 'dev', 'sys', 'etc']) await mkdir(join(rootfs, d), { recursive: true });
    if (!existsSync(join(rootfs, 'bin', 'busybox'))) {
      await copyFile(PAUSE_BINARY, join(rootfs, 'bin', 'busybox'));
      await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
    }
    const spec = buildOciSpec({
      args: ['/bin/busybox', 'sleep', '2147483647'],
      rootfs: 'rootfs',
      readOnlyRootfs: true,
      hostname,
      cgroupsPath: `${this.opts.cgroupPath(pod)}/pause`,
      namespaces: { network: { path: netnsPath }, pid: 'new', ipc: 'new', uts: 'new' },
      capabilities: { drop: ['ALL'] },
      resources: { cpuRequestMilli: 2, noSwap: false },
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
    await runc.create(id, { bundle, stdio: 'ignore' });
    await runc.start(id);
    const started = await runc.state(id);
    return `/proc/${started.pid}/ns/pid`;
  }

  private async removePause(uid: string): Promise<void> {
    try {
      await this.opts.runc.delete(this.pauseId(uid), { force: true });
    } catch (e) {
      if (!(e instanceof ContainerNotFoundError)) throw e;
    }
  }
}

async function writeIfChanged(path: string, content: string): Promise<void> {
  const cur = await readFile(path, 'utf8').catch(() => undefined);
  if (cur !== content) await writeFile(path, content, { mode: 0o644 });
}

