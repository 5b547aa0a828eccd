/**
 * Health checks of a local cluster's endpoints over HTTPS, trusting the cluster CA and presenting
 * the admin client certificate: the API server's /readyz, each agent's /healthz.
 */
import { request } from 'node:https';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface HealthResult {
  ok: boolean;
  /** "ok", the body of a failed check, or the connection error. */
  detail: string;
}

export function checkHealth(url: string, tls: TlsFiles, timeoutMs = 3000): Promise<HealthResult> {
  return new Promise((resolve) => {
    const req = request(url, { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ok: res.statusCode === 200, detail: res.statusCode === 200 ? body.trim() || 'ok' : `HTTP ${res.statusCode}: ${body.trim().split('\n')[0]?.slice(0, 200)}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, detail: (e as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connection refused' : e.message }));
    req.end();
  });
}
