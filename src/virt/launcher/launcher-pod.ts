/**
 * A VMI's launcher pod, as KubeVirt's virt-controller renders it
 * (pkg/virt-controller/services/template.go), laid out for Cairn's VirtHandler (layout.ts): one
 * `compute` container from the virt-launcher image whose QEMU is the guest, the VMI's scheduling
 * fields, its labels (so Services and NetworkPolicies select the VM), the resources of
 * vmi-resources.ts, and the VMI's disks as the pod's volumes where they need one. A pure
 * function: the controller gives it the claims' volume modes from its cache.
 */
import type { KubeObject } from '../../util/object.js';
import { launcherResources } from '../controllers/vmi-resources.js';
import { LAUNCHER_PRESTOP, virtLauncherImage } from './launcher-image.js';
import {
  ANN_DOMAIN,
  APP_VIRT_LAUNCHER,
  blockDevicePath,
  COMPUTE_CONTAINER,
  configVolumeDir,
  diskVolumeDir,
  EPHEMERAL_DIR,
  EPHEMERAL_VOLUME,
  LABEL_APP,
  LABEL_CREATED_BY,
  LABEL_SCHEDULABLE,
  LABEL_VM_NAME,
  launcherPodPrefix,
  PRIVATE_DIR,
  PRIVATE_VOLUME,
} from './layout.js';
import type { Vmi, VmiProbe, VmiVolume } from './vmi-types.js';
import { launcherNetworkAnnotations } from '../net/multus-networks.js';

/** KubeVirt's default terminationGracePeriodSeconds of a VMI (v1.DefaultGracePeriodSeconds). */
export const DEFAULT_VMI_GRACE_SECONDS = 30;
/**
 * KubeVirt pads the launcher pod's grace period twice by 15 s (gracePeriodPaddingSeconds, then
 * the kill-after): the guest gets the VMI's whole period for its ACPI shutdown before the pod's ends.
 */
export const LAUNCHER_GRACE_PADDING_SECONDS = 30;
/** Tells `kubectl logs/exec` which container to pick (KubeVirt sets it too). */
const ANN_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';
/** The ServiceAccount token's lifetime in a projected volume (the kubelet's default for the automounted one). */
const SA_TOKEN_SECONDS = 3607;

export interface LauncherPod {
  pod: KubeObject;
  /** Parts of the VMI the launcher leaves out (one Warning event each). */
  warnings: string[];
}

type Obj = Record<string, unknown>;

/** The claim behind a PVC, ephemeral or DataVolume volume (a DataVolume's claim has its name). */
export const claimNameOf = (v: VmiVolume): string | undefined => v.persistentVolumeClaim?.claimName ?? v.ephemeral?.persistentVolumeClaim.claimName ?? v.dataVolume?.name;

/** The hostname KubeVirt gives the guest and pod: spec.hostname, else the VMI name up to its first dot (63 characters at most). */
export const launcherHostname = (vmi: Vmi): string => vmi.spec.hostname || vmi.metadata.name!.split('.')[0]!.slice(0, 63);

interface RenderedVolumes {
  volumes: Obj[];
  mounts: Obj[];
  devices: Obj[];
  serviceAccountName?: string;
  /** containerDisks' imagePullSecret: the node pulls their images as the pod's. */
  pullSecrets: string[];
}

function renderVolumes(vmi: Vmi, volumeModeOf: (claim: string) => string | undefined): RenderedVolumes {
  const out: RenderedVolumes = {
    volumes: [
      { name: PRIVATE_VOLUME, emptyDir: {} },
      { name: EPHEMERAL_VOLUME, emptyDir: {} },
    ],
    mounts: [
      { name: PRIVATE_VOLUME, mountPath: PRIVATE_DIR },
      { name: EPHEMERAL_VOLUME, mountPath: EPHEMERAL_DIR },
    ],
    devices: [],
    pullSecrets: [],
  };
  for (const v of vmi.spec.volumes ?? []) {
    const claim = claimNameOf(v);
    if (claim) {
      // An ephemeral volume's claim is only read: the handler puts its writes in an overlay.
      const readOnly = !!v.persistentVolumeClaim?.readOnly || !!v.ephemeral;
      out.volumes.push({ name: v.name, persistentVolumeClaim: { claimName: claim, ...(readOnly ? { readOnly } : {}) } });
      if (volumeModeOf(claim) === 'Block') out.devices.push({ name: v.name, devicePath: blockDevicePath(v.name) });
      else out.mounts.push({ name: v.name, mountPath: diskVolumeDir(v.name), ...(readOnly ? { readOnly } : {}) });
    } else if (v.configMap) {
      out.volumes.push({ name: v.name, configMap: { name: v.configMap.name, ...(v.configMap.optional !== undefined ? { optional: v.configMap.optional } : {}) } });
      out.mounts.push({ name: v.name, mountPath: configVolumeDir('config-map', v.name), readOnly: true });
    } else if (v.secret) {
      out.volumes.push({ name: v.name, secret: { secretName: v.secret.secretName, ...(v.secret.optional !== undefined ? { optional: v.secret.optional } : {}) } });
      out.mounts.push({ name: v.name, mountPath: configVolumeDir('secret', v.name), readOnly: true });
    } else if (v.serviceAccount) {
      // What the kubelet automounts for a ServiceAccount, in a volume of its own so the token lands
      // where the handler builds the disk from — and nowhere else in the container.
      out.serviceAccountName = v.serviceAccount.serviceAccountName;
      out.volumes.push({
        name: v.name,
        projected: {
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: SA_TOKEN_SECONDS } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      });
      out.mounts.push({ name: v.name, mountPath: configVolumeDir('service-account', v.name), readOnly: true });
    } else if (v.containerDisk?.imagePullSecret && !out.pullSecrets.includes(v.containerDisk.imagePullSecret)) {
      out.pullSecrets.push(v.containerDisk.imagePullSecret);
    }
    // containerDisk, emptyDisk and cloud-init volumes are files the handler makes in the emptyDirs.
  }
  return out;
}

const PROBE_TIMING = ['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'] as const;

/**
 * The VMI's TCP and HTTP probes run against the pod IP, which the masquerade binding forwards to
 * the guest (KubeVirt does the same). exec and guest-agent pings need a probe helper in the
 * launcher, which Cairn does not have yet.
 */
function renderProbe(kind: 'readinessProbe' | 'livenessProbe', p: VmiProbe | undefined, warnings: string[]): Obj | undefined {
  if (!p) return undefined;
  const handler = p.tcpSocket ? { tcpSocket: p.tcpSocket } : p.httpGet ? { httpGet: p.httpGet } : undefined;
  if (!handler) {
    warnings.push(`spec.${kind}: ${p.exec ? 'exec' : p.guestAgentPing ? 'guestAgentPing' : 'this'} probes are not supported yet; the probe is ignored`);
    return undefined;
  }
  const timing = Object.fromEntries(PROBE_TIMING.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));
  return { ...handler, ...timing };
}

/** KubeVirt's annotation on the short-lived pod that makes a WaitForFirstConsumer claim bind. */
export const ANN_EPHEMERAL_PROVISIONING = 'kubevirt.io/ephemeral-provisioning';

export interface LauncherPodOptions {
  /**
   * The pod only makes the scheduler place the VMI and its WaitForFirstConsumer claims bind there,
   * then exits (KubeVirt's RenderLaunchManifestNoVm); the real launcher follows once they are populated.
   */
  provisioning?: boolean;
}

export function launcherPod(vmi: Vmi, volumeModeOf: (claim: string) => string | undefined, opts: LauncherPodOptions = {}): LauncherPod {
  const name = vmi.metadata.name!;
  const spec = vmi.spec;
  const warnings: string[] = [];
  const vols = renderVolumes(vmi, volumeModeOf);
  const readinessProbe = opts.provisioning ? undefined : renderProbe('readinessProbe', spec.readinessProbe, warnings);
  const livenessProbe = opts.provisioning ? undefined : renderProbe('livenessProbe', spec.livenessProbe, warnings);

  const container: Obj = {
    name: COMPUTE_CONTAINER,
    image: virtLauncherImage(),
    imagePullPolicy: 'IfNotPresent',
    ...(opts.provisioning ? { command: ['/bin/sh', '-c', 'echo bound PVCs'] } : {}),
    resources: launcherResources(spec),
    volumeMounts: vols.mounts,
    ...(vols.devices.length ? { volumeDevices: vols.devices } : {}),
    ...(readinessProbe ? { readinessProbe } : {}),
    ...(livenessProbe ? { livenessProbe } : {}),
    lifecycle: { preStop: { exec: { command: [...LAUNCHER_PRESTOP] } } },
    terminationMessagePath: '/dev/termination-log',
    // QEMU's own complaint (bad disk, missing firmware) becomes the pod's, and so the VMI's, reason.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const podSpec: Obj = {
    restartPolicy: 'Never',
    hostname: launcherHostname(vmi),
    ...(spec.subdomain ? { subdomain: spec.subdomain } : {}),
    nodeSelector: { ...spec.nodeSelector, [LABEL_SCHEDULABLE]: 'true' },
    ...(spec.affinity ? { affinity: structuredClone(spec.affinity) } : {}),
    ...(spec.tolerations ? { tolerations: structuredClone(spec.tolerations) } : {}),
    ...(spec.topologySpreadConstraints ? { topologySpreadConstraints: structuredClone(spec.topologySpreadConstraints) } : {}),
    ...(spec.schedulerName ? { schedulerName: spec.schedulerName } : {}),
    ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
    ...(spec.dnsPolicy ? { dnsPolicy: spec.dnsPolicy } : {}),
    ...(spec.dnsConfig ? { dnsConfig: structuredClone(spec.dnsConfig) } : {}),
    ...(vols.serviceAccountName ? { serviceAccountName: vols.serviceAccountName } : {}),
    ...(vols.pullSecrets.length ? { imagePullSecrets: vols.pullSecrets.map((n) => ({ name: n })) } : {}),
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: (spec.terminationGracePeriodSeconds ?? DEFAULT_VMI_GRACE_SECONDS) + LAUNCHER_GRACE_PADDING_SECONDS,
    containers: [container],
    volumes: vols.volumes,
  };
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: launcherPodPrefix(name),
      namespace: vmi.metadata.namespace,
      labels: { ...vmi.metadata.labels, [LABEL_APP]: APP_VIRT_LAUNCHER, [LABEL_CREATED_BY]: vmi.metadata.uid!, [LABEL_VM_NAME]: name },
      annotations: {
        [ANN_DOMAIN]: name,
        [ANN_DEFAULT_CONTAINER]: COMPUTE_CONTAINER,
        ...(opts.provisioning ? { [ANN_EPHEMERAL_PROVISIONING]: 'true' } : launcherNetworkAnnotations(vmi)),
      },
      ownerReferences: [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name, uid: vmi.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: podSpec,
  };
  return { pod, warnings };
}
