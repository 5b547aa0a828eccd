/**
 * Where everything of a one-machine cluster lives, derived from its data dir and spec, so
 * `cairn up`, `cairn down` and `cairn status` agree without storing paths:
 *
 *   DIR/cluster.json          the spec and the pids of the processes `cairn up` started
 *   DIR/kubeconfig            admin kubeconfig
 *   DIR/logs/server.log       the API server's output; DIR/logs/node-N.log each agent's
 *   DIR/server/               `cairn server --data-dir` (store, PKI with the cluster CA)
 *   DIR/nodes/N/              node N's agent data dir, with its kubeconfig and pki/agent.{crt,key}
 *   DIR/dns/                  `cairn dns --data-dir`: its kubeconfig; its output in DIR/logs/dns.log
 *   DIR/fabric.yaml           with `--fabric FILE`: the copy of FILE the cluster is built on
 *
 * Node N (1-based) is the Node `node-N`, the network namespace `cairn-<name>-node-N` from the
 * lab (underlay address .(10+N)), its agent listens on 127.0.0.1:<agentBasePort+N> and its pods'
 * cgroups live under /cairn-<name>/node-N.
 *
 * On a fabric, the cables between the node namespaces meet in `cairn-<name>-wire`, and node N's
 * FRR daemons keep their runtime files (pid files, sockets, logs, frr.conf) in
 * /run/cairn/clusters/<name>/node-N/frr: under /run, since they do not outlive a reboot, and
 * outside DIR, which is root's alone while the daemons run as the `frr` user.
 */
import { join } from 'node:path';
import { Lab } from '../net/lab.js';

export interface ClusterSpec {
  /** 1–20 of a-z 0-9 (the lab's rule): prefixes every host object. */
  name: string;
  nodes: number;
  apiPort: number;
  agentBasePort: number;
  underlayCidr: string;
  clusterCidr: string;
  /** `--fabric FILE` (absolute): the nodes are built on this topology, kept as DIR/fabric.yaml. */
  fabric?: string;
}

/** Where clusters on a fabric keep their daemons' runtime directories. */
export const CLUSTERS_RUN_DIR = '/run/cairn/clusters';

export const DEFAULT_SPEC: ClusterSpec = {
  name: 'local',
  nodes: 3,
  apiPort: 6443,
  agentBasePort: 10250,
  underlayCidr: '172.20.0.0/24',
  clusterCidr: '10.244.0.0/16',
};

export class ClusterLayout {
  readonly lab: Lab;

  constructor(
    readonly dataDir: string,
    readonly spec: ClusterSpec,
  ) {
    this.lab = new Lab({ cluster: spec.name, underlayCidr: spec.underlayCidr, hostAddress: true });
  }

  get stateFile(): string {
    return stateFile(this.dataDir);
  }
  get adminKubeconfig(): string {
    return join(this.dataDir, 'kubeconfig');
  }
  get logsDir(): string {
    return join(this.dataDir, 'logs');
  }
  get serverDir(): string {
    return join(this.dataDir, 'server');
  }
  get serverLog(): string {
    return join(this.logsDir, 'server.log');
  }
  get caCertFile(): string {
    return join(this.serverDir, 'pki', 'ca.crt');
  }
  get caKeyFile(): string {
    return join(this.serverDir, 'pki', 'ca.key');
  }
  get adminCertFile(): string {
    return join(this.serverDir, 'pki', 'admin.crt');
  }
  get adminKeyFile(): string {
    return join(this.serverDir, 'pki', 'admin.key');
  }
  get apiURL(): string {
    return `https://127.0.0.1:${this.spec.apiPort}`;
  }
  /** The cluster DNS server's dir (its kubeconfig) and log. */
  get dnsDir(): string {
    return join(this.dataDir, 'dns');
  }
  get dnsKubeconfig(): string {
    return join(this.dnsDir, 'kubeconfig');
  }
  get dnsLog(): string {
    return join(this.logsDir, 'dns.log');
  }
  /** The copy of the topology a cluster on a fabric is built on. */
  get fabricFile(): string {
    return fabricFile(this.dataDir);
  }
  /** The namespace where the fabric's cables meet (see src/fabric/lab/plumbing.ts). */
  get wireNetns(): string {
    return `${this.lab.prefix}wire`;
  }
  /** The cluster's runtime files outside the data dir (FRR's). */
  get runDir(): string {
    return join(CLUSTERS_RUN_DIR, this.spec.name);
  }
  frrDir(n: number): string {
    return join(this.runDir, this.nodeName(n), 'frr');
  }
  /** The cgroup every node's pods live under. */
  get cgroupParent(): string {
    return `/cairn-${this.spec.name}`;
  }

  indexes(): number[] {
    return Array.from({ length: this.spec.nodes }, (_, i) => i + 1);
  }
  nodeName(n: number): string {
    return `node-${n}`;
  }
  nodeDir(n: number): string {
    return nodeDir(this.dataDir, n);
  }
  nodeLog(n: number): string {
    return join(this.logsDir, `node-${n}.log`);
  }
  nodeKubeconfig(n: number): string {
    return join(this.nodeDir(n), 'kubeconfig');
  }
  nodeCertFile(n: number): string {
    return join(this.nodeDir(n), 'pki', 'agent.crt');
  }
  nodeKeyFile(n: number): string {
    return join(this.nodeDir(n), 'pki', 'agent.key');
  }
  agentPort(n: number): number {
    return this.spec.agentBasePort + n;
  }
  nodeCgroupRoot(n: number): string {
    return `${this.cgroupParent}/${this.nodeName(n)}`;
  }
}

export const stateFile = (dataDir: string) => join(dataDir, 'cluster.json');
export const nodeDir = (dataDir: string, n: number) => join(dataDir, 'nodes', String(n));
export const fabricFile = (dataDir: string) => join(dataDir, 'fabric.yaml');

