/**
 * The runtime ContainerConfig for one container of a pod: what the kubelet's
 * generateContainerConfig puts in the CRI request, and what containerd's CRI plugin then makes of
 * it together with the image's config (the part of containerd's behaviour a pod can observe):
 *
 * - argv: `command` replaces the image Entrypoint and drops its Cmd; `args` alone replace the
 *   Cmd; both after `$(VAR)` expansion with the container's env (ExpandContainerCommandAndArgs);
 * - env: the image's Env, each name replaced in place by the container's value, new names
 *   appended (containerd's WithEnv);
 * - working dir: `workingDir`, else the image's;
 * - user: runAsUser/runAsGroup (container's over the pod's) over the image USER. As in
 *   Kubernetes with containerd, a numeric image user reaches the runtime as a uid only, so the
 *   image's `USER uid:gid` group is not used: the gid is runAsGroup, else the passwd entry's,
 *   else 0 (kubernetes#61967, containerd#11607). Additional gids: the primary gid, the image
 *   groups listing the user, fsGroup and supplementalGroups, sorted and unique (containerd);
 * - runAsNonRoot is checked as the kubelet's verifyRunAsNonRoot, with its messages;
 * - resources → memory limit, cpu quota and shares; oom_score_adj by QoS class (qos/policy.go).
 */
import { isAbsolute } from 'node:path';
import type { ContainerConfig, ContainerMount } from '../runtime/oci-spec.js';
import type { Container, Pod, Quantity } from './api-types.js';
import { ContainerConfigError } from './errors.js';
import { expand, lookupIn } from './expansion.js';
import { lookupUser, type ResolvedUser } from './image-user.js';
import { InvalidQuantityError, quantityMilliValue, quantityValue } from './quantity.js';

/** The fields of an OCI image config (`config`) a container's process depends on. */
export interface ImageProcessConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[];
  WorkingDir?: string;
  User?: string;
}

export interface ContainerConfigInput {
  pod: Pod;
  container: Container;
  imageConfig: ImageProcessConfig;
  /** `KEY=value` entries from resolveEnv. */
  env: string[];
  mounts: ContainerMount[];
  rootfs: string;
  cgroupsPath: string;
  namespaces: ContainerConfig['namespaces'];
  hostname?: string;
  /** The node's memory capacity, for the Burstable oom_score_adj. */
  memoryCapacityBytes: number;
  /** Resolves a user string in the image; default lookupUser over `rootfs` (when absolute). */
  passwd?: (user: string) => ResolvedUser | undefined;
}

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** The kubelet's OOM score adjustments (pkg/kubelet/qos/policy.go). */
export const GUARANTEED_OOM_SCORE_ADJ = -997;
export const BEST_EFFORT_OOM_SCORE_ADJ = 1000;

const QOS_RESOURCES = ['cpu', 'memory'];

/** Milli-units of a quantity; 0 for one that does not parse (the API server rejects those). */
function milliOrZero(q: Quantity | undefined): number {
  if (q === undefined) return 0;
  try {
    return quantityMilliValue(q);
  } catch (e) {
    if (e instanceof InvalidQuantityError) return 0;
    throw e;
  }
}

/** The pod's QoS class, as upstream GetPodQOS: status.qosClass when set, else computed over init and regular containers. */
export function qosClass(pod: Pod): QosClass {
  if (pod.status?.qosClass) return pod.status.qosClass;
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const [name, q] of Object.entries(c.resources?.requests ?? {})) {
      const m = milliOrZero(q);
      if (QOS_RESOURCES.includes(name) && m > 0) requests.set(name, (requests.get(name) ?? 0) + m);
    }
    const found = new Set<string>();
    for (const [name, q] of Object.entries(c.resources?.limits ?? {})) {
      const m = milliOrZero(q);
      if (QOS_RESOURCES.includes(name) && m > 0) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0) + m);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) for (const [name, r] of requests) if (limits.get(name) !== r) guaranteed = false;
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

/** The pod's cgroup under the kubelet's cgroupfs layout: kubepods[/burstable|/besteffort]/pod<uid>. */
export function podCgroupPath(cgroupRoot: string, pod: Pod): string {
  const qos = qosClass(pod);
  const tier = qos === 'Guaranteed' ? '' : `/${qos.toLowerCase()}`;
  return `${cgroupRoot.replace(/\/+$/, '')}/kubepods${tier}/pod${pod.metadata.uid}`;
}

const memoryRequest = (c: Container) => {
  const q = c.resources?.requests?.memory;
  return q === undefined ? 0 : Math.ceil(milliOrZero(q) / 1000);
};

/** oom_score_adj for a container, as upstream GetContainerOOMScoreAdjust (sidecars included). */
export function oomScoreAdj(pod: Pod, container: Container, memoryCapacityBytes: number): number {
  if (pod.spec.priorityClassName === 'system-node-critical') return GUARANTEED_OOM_SCORE_ADJ;
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === 'BestEffort') return BEST_EFFORT_OOM_SCORE_ADJ;
  if (!(memoryCapacityBytes > 0)) throw new RangeError(`memory capacity must be positive, got ${memoryCapacityBytes}`);
  // Go's integer division truncates toward zero.
  const score = (request: number) => 1000 - Math.trunc((1000 * request) / memoryCapacityBytes);
  let adj = score(memoryRequest(container));
  const isSidecar = container.restartPolicy === 'Always' && (pod.spec.initContainers ?? []).some((c) => c.name === container.name);
  if (isSidecar && pod.spec.containers.length) {
    // A sidecar is killed no earlier than the regular container with the smallest request.
    const minRegular = Math.min(...pod.spec.containers.map(memoryRequest));
    adj = Math.min(adj, score(minRegular));
  }
  // Burstable stays strictly between Guaranteed and BestEffort.
  if (adj < 1000 + GUARANTEED_OOM_SCORE_ADJ) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  if (adj === BEST_EFFORT_OOM_SCORE_ADJ) return adj - 1;
  return adj;
}

/** upstream format.Pod: `name_namespace(uid)`. */
const podDesc = (pod: Pod) => `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;

const envMap = (env: string[]): Map<string, string> => {
  const m = new Map<string, string>();
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return m;
};

/** argv from command/args and the image's Entrypoint/Cmd (kubelet expansion, then containerd's WithProcessArgs). */
export function processArgs(container: Container, image: ImageProcessConfig, env: string[]): string[] {
  const lookup = lookupIn(envMap(env));
  let command = (container.command ?? []).map((s) => expand(s, lookup));
  let args = (container.args ?? []).map((s) => expand(s, lookup));
  if (command.length === 0) {
    if (args.length === 0) args = [...(image.Cmd ?? [])];
    // An Entrypoint of [""] is Docker's way of writing "no entrypoint".
    const ep = image.Entrypoint ?? [];
    command = ep.length === 1 && ep[0] === '' ? [] : [...ep];
  }
  const argv = [...command, ...args];
  if (argv.length === 0) throw new ContainerConfigError('failed to generate spec: no command specified', 'CreateContainerError');
  return argv;
}

/** The image's Env with the container's env over it: same names replaced in place, new ones appended (containerd). */
export function mergeEnv(imageEnv: string[], env: string[]): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  for (const e of [...imageEnv, ...env]) {
    const eq = e.indexOf('=');
    const name = eq < 0 ? e : e.slice(0, eq);
    const at = index.get(name);
    if (at === undefined) {
      index.set(name, out.length);
      out.push(e);
    } else out[at] = e;
  }
  return out;
}

const MAX_USER_ID = 2147483647;

/** The process's uid/gid/groups; throws on runAsNonRoot violations and unknown user names. */
function processUser(input: ContainerConfigInput): NonNullable<ContainerConfig['user']> {
  const { pod, container, imageConfig } = input;
  const csc = container.securityContext ?? {};
  const psc = pod.spec.securityContext ?? {};
  const runAsUser = csc.runAsUser ?? psc.runAsUser;
  const runAsGroup = csc.runAsGroup ?? psc.runAsGroup;
  const runAsNonRoot = csc.runAsNonRoot ?? psc.runAsNonRoot;

  // What the kubelet learns from the image (getImageUser): a uid, or a name; no USER is root.
  const imageUserPart = (imageConfig.User ?? '').split(':')[0];
  const imageUid = imageUserPart === '' ? 0 : /^[0-9]+$/.test(imageUserPart) ? Number(imageUserPart) : undefined;
  const imageName = imageUid === undefined ? imageUserPart : '';

  if (runAsNonRoot) {
    const where = `(pod: ${JSON.stringify(podDesc(pod))}, container: ${container.name})`;
    if (runAsUser !== undefined) {
      if (runAsUser === 0) throw new ContainerConfigError(`container's runAsUser breaks non-root policy ${where}`);
    } else if (imageUid === undefined) {
      throw new ContainerConfigError(`container has runAsNonRoot and image has non-numeric user (${imageName}), cannot verify user is non-root ${where}`);
    } else if (imageUid === 0) {
      throw new ContainerConfigError(`container has runAsNonRoot and image will run as root ${where}`);
    } else if (imageUid > MAX_USER_ID) {
      throw new ContainerConfigError(
        `container has runAsNonRoot and image has an invalid user id (${imageUid}). (Must be 1-(${MAX_USER_ID})): must be between 0 and ${MAX_USER_ID}, inclusive ${where}`,
      );
    }
  }

  // The user string containerd resolves (generateUserString): the uid or name, with runAsGroup.
  const who = runAsUser !== undefined ? String(runAsUser) : imageUid !== undefined ? String(imageUid) : imageName;
  const userString = runAsGroup !== undefined ? `${who}:${runAsGroup}` : who;
  const passwd = input.passwd ?? (isAbsolute(input.rootfs) ? (u: string) => lookupUser(input.rootfs, u) : undefined);
  let resolved = passwd?.(userString);
  if (!resolved) {
    if (!/^[0-9]+$/.test(who)) throw new ContainerConfigError(`unable to find user ${who}: no matching entries in passwd file`, 'CreateContainerError');
    resolved = { uid: Number(who), gid: runAsGroup ?? 0 };
  }
  const groups = [resolved.gid, ...(resolved.additionalGids ?? [])];
  if (psc.fsGroup !== undefined) groups.push(psc.fsGroup);
  groups.push(...(psc.supplementalGroups ?? []));
  return { uid: resolved.uid, gid: resolved.gid, additionalGids: [...new Set(groups)].sort((a, b) => a - b) };
}

function resourceValue(container: Container, list: 'limits' | 'requests', name: string, milli: boolean): number | undefined {
  const q = container.resources?.[list]?.[name];
  if (q === undefined) return undefined;
  try {
    const v = milli ? quantityMilliValue(q) : quantityValue(q);
    return v > 0 ? v : undefined;
  } catch (e) {
    if (e instanceof InvalidQuantityError) throw new ContainerConfigError(`invalid resources.${list}.${name}: ${e.message}`);
    throw e;
  }
}

export function buildContainerConfig(input: ContainerConfigInput): ContainerConfig {
  const { pod, container: c, imageConfig } = input;
  const sc = c.securityContext ?? {};
  const sysctls = pod.spec.securityContext?.sysctls ?? [];
  const config: ContainerConfig = {
    args: processArgs(c, imageConfig, input.env),
    env: mergeEnv(imageConfig.Env ?? [], input.env),
    cwd: c.workingDir || imageConfig.WorkingDir || undefined,
    user: processUser(input),
    terminal: c.tty ?? false,
    rootfs: input.rootfs,
    readOnlyRootfs: sc.readOnlyRootFilesystem ?? false,
    hostname: input.hostname,
    privileged: sc.privileged ?? false,
    capabilities: sc.capabilities,
    allowPrivilegeEscalation: sc.allowPrivilegeEscalation,
    mounts: input.mounts,
    namespaces: input.namespaces,
    cgroupsPath: input.cgroupsPath,
    resources: {
      memoryLimitBytes: resourceValue(c, 'limits', 'memory', false),
      cpuLimitMilli: resourceValue(c, 'limits', 'cpu', true),
      cpuRequestMilli: resourceValue(c, 'requests', 'cpu', true),
    },
    oomScoreAdj: oomScoreAdj(pod, c, input.memoryCapacityBytes),
  };
  if (sysctls.length) config.sysctls = Object.fromEntries(sysctls.map((s) => [s.name, s.value]));
  return config;
}
