/**
 * What the importer pod tells the DataVolume controller without API credentials, as CDI's does:
 * its progress as a Prometheus metric on the pod's port 8443 (`/metrics`,
 * `kubevirt_cdi_import_progress_total{ownerUID="<DataVolume uid>"} 45.5`), which the controller
 * reads from the pod IP while the pod runs, and its result as the termination message. The
 * figures shown are CDI's: `45.00%` while importing, `100.0%` once Succeeded, `N/A` before.
 */
import { request } from 'node:http';

export const PROGRESS_PORT = 8443;
export const PROGRESS_METRIC = 'kubevirt_cdi_import_progress_total';
/** The importer's termination message on success (CDI's). */
export const IMPORT_COMPLETE = 'Import Complete';
/** A clone's source pod's and the DataVolume's message on success (CDI's). */
export const CLONE_COMPLETE = 'Clone Complete';
export const PROGRESS_UNKNOWN = 'N/A';
export const PROGRESS_DONE = '100.0%';

export const formatProgress = (percent: number): string => `${Math.min(100, Math.max(0, percent)).toFixed(2)}%`;

export const progressMetricText = (ownerUid: string, percent: number): string =>
  `# HELP ${PROGRESS_METRIC} The import progress in percentage\n# TYPE ${PROGRESS_METRIC} counter\n${PROGRESS_METRIC}{ownerUID="${ownerUid}"} ${percent.toFixed(2)}\n`;

/** The progress figure for `ownerUid` in a metrics page, or undefined when it has none. */
export function progressFromMetrics(text: string, ownerUid: string): string | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${PROGRESS_METRIC}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+([0-9.eE+-]+)$/.exec(line.trim());
    if (m && m[1]!.includes(`ownerUID="${ownerUid}"`) && Number.isFinite(Number(m[2]))) return formatProgress(Number(m[2]));
  }
  return undefined;
}

/** Reads the importer's progress from its pod; undefined when it does not answer (yet). */
export function fetchProgress(podIP: string, ownerUid: string, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: podIP, port: PROGRESS_PORT, path: '/metrics', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 65536) body += d;
      });
      res.on('end', () => resolve(res.statusCode === 200 ? progressFromMetrics(body, ownerUid) : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
