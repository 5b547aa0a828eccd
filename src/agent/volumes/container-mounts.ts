/**
 * A container's mounts, as the kubelet (makeMounts) and containerd's CRI plugin together give
 * them to runc:
 * - each volumeMount binds its volume (or a subPath of it) with the mount's readOnly — forced
 *   for configMap/secret/downwardAPI/projected — and mountPropagation; a volume that does not
 *   exist on the host yet (hostPath without a type) is created as a 0755 directory, as
 *   containerd does;
 * - the kubelet's /etc/hosts (read-write) unless the container mounts its own, and the
 *   container's termination-log file at its terminationMessagePath;
 * - containerd's /etc/hostname and /etc/resolv.conf, read-only when the root filesystem is,
 *   unless one of the above already covers the path;
 * ordered by path depth so that no mount hides one below it.
 *
 * Failures are ContainerConfigError (the container waits with CreateContainerConfigError).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { posix } from 'node:path';
import type { Logger } from '../../client/log.js';
import type { Container, Pod } from '../pods/api-types.js';
import { ContainerConfigError } from '../pods/errors.js';
import type { ContainerMount } from '../runtime/oci-spec.js';
import type { PreparedVolume } from './plugin.js';
import { expandSubPathExpr, resolveSubPath } from './subpath.js';

export interface ExtraMountFiles {
  /** The kubelet-managed hosts file of the pod. */
  etcHosts?: string;
  resolvConf?: string;
  hostnameFile?: string;
  /** The container's termination-log file (which must exist) and its terminationMessagePath. */
  terminationLog?: { hostPath: string; containerPath: string };
  /** Where subPath problems are told in detail (the container only sees the kubelet's short message). */
  logger?: Logger;
}

const clean = (p: string) => posix.normalize(p).replace(/(.)\/$/, '$1');
const depth = (p: string) => clean(p).split('/').length;

export function containerMounts(pod: Pod, container: Container, prepared: Map<string, PreparedVolume>, env: Record<string, string>, extra: ExtraMountFiles = {}): ContainerMount[] {
  const log = (detail: string) =>
    extra.logger?.({ level: 'warn', msg: 'subPath rejected', pod: `${pod.metadata.namespace}/${pod.metadata.name}`, container: container.name, error: detail });
  const mounts: ContainerMount[] = [];
  for (const m of container.volumeMounts ?? []) {
    const vol = prepared.get(m.name);
    if (!vol) throw new ContainerConfigError(`cannot find volume "${m.name}" to mount into container "${container.name}"`);
    if (vol.blockVolume) throw new ContainerConfigError(`volume ${m.name} has volumeMode Block, but is specified in volumeMounts`);
    const subPath = m.subPathExpr ? expandSubPathExpr(m.subPathExpr, env) : m.subPath;
    let source = vol.hostPath;
    if (subPath) source = resolveSubPath(vol.hostPath, subPath, m.name, container.name, log);
    else if (!existsSync(source)) mkdirSync(source, { recursive: true, mode: 0o755 });
    mounts.push({ kind: 'bind', source, destination: m.mountPath, readOnly: !!m.readOnly || vol.readOnly, propagation: m.mountPropagation ?? 'None' });
  }
  const covered = (dest: string) => mounts.some((m) => clean(m.destination) === dest);
  if (extra.etcHosts && !covered('/etc/hosts')) mounts.push({ kind: 'bind', source: extra.etcHosts, destination: '/etc/hosts', readOnly: false });
  if (extra.terminationLog) mounts.push({ kind: 'bind', source: extra.terminationLog.hostPath, destination: extra.terminationLog.containerPath, readOnly: false });
  const readOnlyRootfs = !!container.securityContext?.readOnlyRootFilesystem;
  for (const [dest, source] of [
    ['/etc/hostname', extra.hostnameFile],
    ['/etc/resolv.conf', extra.resolvConf],
  ] as const) {
    if (source && !covered(dest)) mounts.push({ kind: 'bind', source, destination: dest, readOnly: readOnlyRootfs });
  }
  // Array.prototype.sort is stable: equal depths keep their order.
  return mounts.sort((a, b) => depth(a.destination) - depth(b.destination));
}
