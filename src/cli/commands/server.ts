/** `cairn server`: the API server in the foreground until SIGTERM/SIGINT. */
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { startServer } from '../../api/start.js';
import { AUDIT_LEVELS, type AuditLevel } from '../../api/audit.js';
import { parseIPPool } from '../../controllers/service-lb.js';

const DEFAULT_DATA_DIR = '/var/lib/cairn';

export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v);
  if (!m) throw new CliError(`--listen wants ADDR:PORT (for example 127.0.0.1:6443), got "${v}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new CliError(`--listen port must be at most 65535, got ${port}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export const serverCommand: Command = {
  name: 'server',
  summary: 'run the API server (HTTPS, Kubernetes-compatible)',
  usage: [
    'usage: cairn server [--data-dir DIR] [--listen ADDR:PORT] [--store sqlite|etcd] [--etcd-endpoints URLS]',
    '                    [--token-auth-file FILE] [--advertise NAME]...',
    '',
    `  --data-dir DIR         state, PKI and admin.kubeconfig (default ${DEFAULT_DATA_DIR})`,
    '  --listen ADDR:PORT     where to serve HTTPS (default 127.0.0.1:6443; repeatable, one port)',
    '  --store sqlite|etcd    the store backend (default sqlite, one file in the data dir)',
    '  --etcd-endpoints URLS  comma-separated etcd client URLs (with --store etcd)',
    '  --etcd-prefix PREFIX   key prefix in etcd (default /cairn)',
    '  --token-auth-file FILE bearer tokens, one per line: token,user,uid,"group1,group2"',
    '  --advertise NAME       an extra DNS name or IP for the serving certificate (repeatable)',
    '  --no-controllers       do not run controllers and scheduler in this process (run `cairn controllers`)',
    '  --compaction-interval SECONDS  compact store history older than this, every this often (default 300)',
    '  --lb-pool CIDR         addresses for LoadBalancer Services (an IPv4 CIDR, or FIRST-LAST)',
    '  --cluster-cidr CIDR    the pod network; each node gets a /24 of it (default 10.244.0.0/16)',
    '  --audit-log PATH       audit log file, JSON lines (default DIR/audit.log; - for stderr, none for no log)',
    '  --audit-level LEVEL    Metadata (default, no bodies), Request or RequestResponse (Secret bodies never)',
    '  --encryption-config FILE  keys encrypting Secrets at rest (default DIR/encryption.json, made on first start)',
    '  --simulated-nodes N    run N simulated nodes (label cairn.io/simulated=true) in this process; see `cairn sim --help`',
  ].join('\n'),
  options: {
    'data-dir': { type: 'string' },
    listen: { type: 'string', multiple: true },
    store: { type: 'string' },
    'etcd-endpoints': { type: 'string' },
    'etcd-prefix': { type: 'string' },
    'token-auth-file': { type: 'string' },
    advertise: { type: 'string', multiple: true },
    'compaction-interval': { type: 'string' },
    'lb-pool': { type: 'string' },
    'cluster-cidr': { type: 'string' },
    'no-controllers': { type: 'boolean' },
    'audit-log': { type: 'string' },
    'audit-level': { type: 'string' },
    'encryption-config': { type: 'string' },
    'simulated-nodes': { type: 'string' },
  },
  async run(v) {
    const listens = ((v.listen as string[] | undefined) ?? ['127.0.0.1:6443']).map(parseListen);
    const listen = listens[0]!;
    for (const l of listens.slice(1)) if (l.port !== listen.port) throw new CliError(`every --listen must use the same port (${listen.port}), got ${l.host}:${l.port}`);
    const store = (v.store as string | undefined) ?? 'sqlite';
    if (store !== 'sqlite' && store !== 'etcd') throw new CliError(`--store must be sqlite or etcd, got "${store}"`);
    const endpoints = (v['etcd-endpoints'] as string | undefined)?.split(',').map((s) => s.trim()).filter(Boolean);
    if (store === 'etcd' && !endpoints?.length) throw new CliError('--store etcd needs --etcd-endpoints (for example http://127.0.0.1:2379)');
    for (const e of endpoints ?? []) if (!/^https?:\/\/[^/]+$/.test(e)) throw new CliError(`--etcd-endpoints: "${e}" is not a URL like http://127.0.0.1:2379`);
    const compaction = (v['compaction-interval'] as string | undefined) ?? '300';
    if (!/^[0-9]+$/.test(compaction) || Number(compaction) < 1) throw new CliError(`--compaction-interval wants a whole number of seconds (at least 1), got "${compaction}"`);
    const clusterCidr = v['cluster-cidr'] as string | undefined;
    if (clusterCidr !== undefined) {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(clusterCidr);
      if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 24)
        throw new CliError(`--cluster-cidr wants an IPv4 CIDR of /24 or larger (for example 10.244.0.0/16), got "${clusterCidr}"`);
    }
    const lbPool = v['lb-pool'] as string | undefined;
    if (lbPool !== undefined) {
      try {
        parseIPPool(lbPool);
      } catch (e) {
        throw new CliError(`--lb-pool: ${(e as Error).message}`);
      }
    }
    const simRaw = v['simulated-nodes'] as string | undefined;
    if (simRaw !== undefined && !/^[0-9]+$/.test(simRaw)) throw new CliError(`--simulated-nodes wants a whole number, got "${simRaw}"`);
    const simulatedNodes = simRaw === undefined ? undefined : Number(simRaw);
    const auditLevel = (v['audit-level'] as string | undefined) ?? 'Metadata';
    if (!AUDIT_LEVELS.includes(auditLevel as AuditLevel)) throw new CliError(`--audit-level must be one of ${AUDIT_LEVELS.join(', ')}, got "${auditLevel}"`);
    const auditRaw = v['audit-log'] as string | undefined;
    if (auditRaw === '') throw new CliError('--audit-log wants a file, - for stderr, or none');
    const auditLog = auditRaw === 'none' ? false : auditRaw;
    let server;
    try {
      server = await startServer({
        dataDir: (v['data-dir'] as string | undefined) ?? DEFAULT_DATA_DIR,
        host: listen.host,
        port: listen.port,
        extraHosts: listens.slice(1).map((l) => l.host),
        store,
        etcdEndpoints: endpoints,
        etcdPrefix: (v['etcd-prefix'] as string | undefined) ?? '/cairn',
        tokenFile: v['token-auth-file'] as string | undefined,
        advertise: v.advertise as string[] | undefined,
        compactionIntervalMs: Number(compaction) * 1000,
        lbPool,
        ...(clusterCidr ? { controllerOptions: { settings: { clusterCidr } } } : {}),
        controllers: !v['no-controllers'],
        auditLog,
        auditLevel: auditLevel as AuditLevel,
        encryptionConfig: v['encryption-config'] as string | undefined,
        simulatedNodes,
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new CliError(`cannot listen on ${listen.host}:${listen.port}: the address is in use`);
      if (err.code === 'EACCES') throw new CliError(`cannot listen on ${listen.host}:${listen.port}: permission denied`);
      throw new CliError(`server failed to start: ${err.message}`);
    }
    process.stderr.write(`cairn server ready at ${server.url}\n  export KUBECONFIG=${server.kubeconfigPath}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void server.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
