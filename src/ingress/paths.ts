/**
 * Where a node's Ingress data plane keeps its files, under the agent's data dir, so the agent,
 * a restarted agent and `cairn down` agree without storing paths:
 *
 *   DATA/ingress/nginx.conf      the rendered configuration nginx runs
 *   DATA/ingress/nginx.conf.new  the next one, while `nginx -t` checks it
 *   DATA/ingress/nginx.pid       the master's pid (written by nginx; how a new agent adopts it)
 *   DATA/ingress/logs/           nginx's error log
 *   DATA/ingress/tmp/            nginx's temp paths (unused in practice: nothing spills to disk)
 *   DATA/ingress/ssl/            PEM files (certificate + key) from TLS Secrets, mode 0600
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface IngressPaths {
  dir: string;
  conf: string;
  nextConf: string;
  pidFile: string;
  logs: string;
  errorLog: string;
  tmp: string;
  ssl: string;
}

export function ingressPaths(agentDataDir: string): IngressPaths {
  const dir = join(agentDataDir, 'ingress');
  return {
    dir,
    conf: join(dir, 'nginx.conf'),
    nextConf: join(dir, 'nginx.conf.new'),
    pidFile: join(dir, 'nginx.pid'),
    logs: join(dir, 'logs'),
    errorLog: join(dir, 'logs', 'error.log'),
    tmp: join(dir, 'tmp'),
    ssl: join(dir, 'ssl'),
  };
}

/** The directories nginx needs before it starts (ssl/ is the certificate store's). */
export async function makeIngressDirs(paths: IngressPaths): Promise<void> {
  for (const d of [paths.dir, paths.logs, paths.tmp]) await mkdir(d, { recursive: true, mode: 0o755 });
}
