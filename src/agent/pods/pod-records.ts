/**
 * Where a pod's things live on the node, and how container instances are named and labelled.
 * Everything the agent needs after a restart is derivable from these paths and the runtime's
 * container labels — there is no other state.
 *
 *   DATA/pods/<uid>/pod.json                   the last pod object seen (to terminate it after
 *                                              it vanished from the API while the agent was down)
 *   DATA/pods/<uid>/logs/<container>/<n>.log   CRI log of instance n (kubectl logs, --previous)
 *   DATA/pods/<uid>/bundles/<container id>/    OCI bundle: config.json, rootfs (overlay), upper
 *   DATA/pods/<uid>/etc/{hosts,resolv.conf,hostname}
 *   DATA/pods/<uid>/termination/<container>-<n> the container's /dev/termination-log
 *   DATA/pods/<uid>/volumes/...                (volume manager)
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../../net/ipam.js';
import type { ContainerStatus as RuntimeStatus } from '../runtime/container-runtime.js';
import type { Pod } from './api-types.js';

export type ContainerKind = 'init' | 'regular' | 'sandbox';

export const LABEL = {
  podUid: 'cairn.io/pod-uid',
  podName: 'cairn.io/pod-name',
  podNamespace: 'cairn.io/pod-namespace',
  container: 'cairn.io/container',
  attempt: 'cairn.io/attempt',
  kind: 'cairn.io/kind',
  image: 'cairn.io/image',
  imageID: 'cairn.io/image-id',
} as const;

export interface InstanceRef {
  podUid: string;
  container: string;
  attempt: number;
  kind: ContainerKind;
}

/** One container instance as the runtime has it, with its parsed labels. */
export interface Instance extends InstanceRef {
  status: RuntimeStatus;
  image: string;
  imageID: string;
}

export class PodRecords {
  readonly podsDir: string;

  constructor(readonly dataDir: string) {
    this.podsDir = join(dataDir, 'pods');
  }

  podDir(uid: string): string {
    return join(this.podsDir, safeUid(uid));
  }
  logPath(uid: string, container: string, attempt: number): string {
    return join(this.podDir(uid), 'logs', container, `${attempt}.log`);
  }
  bundleDir(containerId: string, uid: string): string {
    return join(this.podDir(uid), 'bundles', containerId);
  }
  etcDir(uid: string): string {
    return join(this.podDir(uid), 'etc');
  }
  terminationLog(uid: string, container: string, attempt: number): string {
    return join(this.podDir(uid), 'termination', `${container}-${attempt}`);
  }

  /** Container ids are `<pod uid>-<container>-<attempt>`: unique on the node, readable in `runc list`. */
  containerId(ref: Omit<InstanceRef, 'kind'>): string {
    return `${this.containerIdPrefix(ref.podUid, ref.container)}${ref.attempt}`;
  }

  /** What every attempt's id of one container starts with. */
  containerIdPrefix(podUid: string, container: string): string {
    return `${safeUid(podUid)}-${container}-`;
  }

  labels(pod: Pod, ref: InstanceRef, image: string, imageID: string): Record<string, string> {
    return {
      [LABEL.podUid]: ref.podUid,
      [LABEL.podName]: pod.metadata.name ?? '',
      [LABEL.podNamespace]: pod.metadata.namespace ?? '',
      [LABEL.container]: ref.container,
      [LABEL.attempt]: String(ref.attempt),
      [LABEL.kind]: ref.kind,
      [LABEL.image]: image,
      [LABEL.imageID]: imageID,
    };
  }

  /** Writes pod.json when this version of the pod was not written yet. */
  async savePod(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid!;
    const version = pod.metadata.resourceVersion ?? '';
    if (version && this.saved.get(uid) === version) return;
    await mkdir(this.podDir(uid), { recursive: true });
    await writeAtomic(join(this.podDir(uid), 'pod.json'), JSON.stringify(pod));
    this.saved.set(uid, version);
  }
  private readonly saved = new Map<string, string>();

  async loadPod(uid: string): Promise<Pod | undefined> {
    try {
      return JSON.parse(await readFile(join(this.podDir(uid), 'pod.json'), 'utf8')) as Pod;
    } catch {
      return undefined;
    }
  }

  async podUidsOnDisk(): Promise<string[]> {
    try {
      return (await readdir(this.podsDir)).filter((n) => UID_RE.test(n));
    } catch {
      return [];
    }
  }

  async removePodDir(uid: string): Promise<void> {
    this.saved.delete(uid);
    await rm(this.podDir(uid), { recursive: true, force: true });
  }
}

/** Parses a runtime record's labels; undefined for containers that are not a pod's. */
export function instanceOf(st: RuntimeStatus): Instance | undefined {
  const l = st.labels;
  const podUid = l[LABEL.podUid];
  const container = l[LABEL.container];
  const attempt = Number(l[LABEL.attempt]);
  const kind = l[LABEL.kind] as ContainerKind | undefined;
  if (!podUid || !container || !Number.isInteger(attempt) || (kind !== 'init' && kind !== 'regular' && kind !== 'sandbox')) return undefined;
  return { podUid, container, attempt, kind, status: st, image: l[LABEL.image] ?? '', imageID: l[LABEL.imageID] ?? '' };
}

const UID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

function safeUid(uid: string): string {
  if (!UID_RE.test(uid)) throw new Error(`invalid pod uid ${JSON.stringify(uid)}`);
  return uid;
}
