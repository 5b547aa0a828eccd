// A DHCP server for one guest NIC: busybox udhcpd inside the launcher's network namespace,
// handing the guest its fixed address (a static lease for the NIC's MAC — the only lease it
// gives), the gateway, DNS servers and search domains, MTU and hostname — what KubeVirt's
// masquerade binding serves from virt-launcher.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkIfName, checkIpv4, checkMac, checkNetnsName, parseCidr, intToIpv4 } from '../../net/ip.js';
import { netnsDaemonCommand } from '../../net/netns-daemon.js';

export class DhcpServerError extends Error {
  override name = 'DhcpServerError';
}

export interface DhcpServerSpec {
  /** The namespace and interface (the bridge) it serves on; the interface must have its address. */
  netns: string;
  iface: string;
  guestMac: string;
  guestIp: string;
  /** The guest's subnet, e.g. 10.0.2.0/24. */
  subnet: string;
  router: string;
  dns?: string[];
  searchDomains?: string[];
  mtu?: number;
  hostname?: string;
  /** Directory for its config, lease file and log. */
  dir: string;
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** The udhcpd.conf text (exported for unit tests). */
export function udhcpdConfig(s: DhcpServerSpec): string {
  checkIfName(s.iface);
  const ip = checkIpv4(s.guestIp);
  const net = parseCidr(s.subnet, true);
  const mask = intToIpv4(net.prefix === 0 ? 0 : (0xffffffff << (32 - net.prefix)) >>> 0);
  const lines = [
    `interface ${s.iface}`,
    `start ${ip}`,
    `end ${ip}`,
    'max_leases 1',
    `lease_file ${join(s.dir, 'udhcpd.leases')}`,
    `pidfile ${join(s.dir, 'udhcpd.pid')}`,
    'auto_time 0',
    `static_lease ${checkMac(s.guestMac)} ${ip}`,
    `option subnet ${mask}`,
    `option router ${checkIpv4(s.router)}`,
    'option lease 86400',
  ];
  if (s.dns?.length) lines.push(`option dns ${s.dns.map(checkIpv4).join(' ')}`);
  if (s.searchDomains?.length) {
    for (const d of s.searchDomains) if (!DNS_NAME.test(d)) throw new DhcpServerError(`invalid search domain ${JSON.stringify(d)}`);
    lines.push(`option search ${s.searchDomains.join(' ')}`);
  }
  if (s.mtu !== undefined) {
    if (!Number.isInteger(s.mtu) || s.mtu < 576 || s.mtu > 65535) throw new DhcpServerError(`invalid MTU ${s.mtu}`);
    lines.push(`option mtu ${s.mtu}`);
  }
  if (s.hostname !== undefined) {
    if (!DNS_NAME.test(s.hostname)) throw new DhcpServerError(`invalid hostname ${JSON.stringify(s.hostname)}`);
    lines.push(`option hostname ${s.hostname}`);
  }
  if (/[\0\n]/.test(s.dir)) throw new DhcpServerError('invalid directory');
  return lines.join('\n') + '\n';
}

export class DhcpServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly exited: Promise<void>,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(s: DhcpServerSpec): Promise<DhcpServer> {
    checkNetnsName(s.netns);
    await mkdir(s.dir, { recursive: true });
    const conf = join(s.dir, 'udhcpd.conf');
    await writeFile(conf, udhcpdConfig(s));
    await writeFile(join(s.dir, 'udhcpd.leases'), '');
    const fd = openSync(join(s.dir, 'udhcpd.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(...netnsDaemonCommand(s.netns, ['busybox', 'udhcpd', '-f', conf]), { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    let gone = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    void exited.then(() => (gone = true));
    // udhcpd exits at once on a bad config or a missing interface address; give it a moment.
    await new Promise((r) => setTimeout(r, 150));
    if (gone) throw new DhcpServerError(`udhcpd exited at start (see ${join(s.dir, 'udhcpd.log')})`);
    return new DhcpServer(child, exited);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await this.exited;
    clearTimeout(t);
  }
}
