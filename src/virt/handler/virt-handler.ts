/**
 * The node's VirtHandler (KubeVirt's virt-handler, as a node add-on of the agent): for each VMI
 * whose launcher pod runs on this node it
 *   1. sets up the pod network binding inside the pod's namespace (masquerade: bridge, tap, NAT;
 *      the DHCP server's config for the launcher to run),
 *   2. makes the cloud-init ISOs and emptyDisk images in the launcher's emptyDirs,
 *   3. hands QEMU its argument vector (`argv`; the launcher's entrypoint execs QEMU with it),
 *   4. keeps a QMP session to report phase Running, Paused, the guest agent's view and the
 *      interfaces on the VMI, serves pause/unpause and the console/VNC sockets, and presses the
 *      ACPI power button when the launcher pod starts terminating.
 * Files go through /proc/<QEMU container pid>/root, so every path is the container's own
 * (layout.ts) and sockets stay short. Level-triggered from the VMI, pod and claim caches; the
 * argv file marks a launch done, so a restarted agent reconnects instead of relaunching.
 *
 * Live migration (migration-handler.ts): on the target node the target launcher pod is launched
 * the same way but QEMU waits with `-incoming defer`, before the VMI has moved here; on the
 * source node the running session migrates it away, and once the VMI has moved its QEMU ends.
 * After the move the target's session is simply the VMI's session here (same pod uid).
 */
import { constants } from 'node:fs';
import { access, copyFile, lstat, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { resolveInRoot } from '../../util/path-in-root.js';
import { finalStateOf, isConflict, isNotFound, type Informer, runController, WorkQueue } from '../../client/index.js';
import type { Container, Pod } from '../../agent/pods/api-types.js';
import { ImagePullError } from '../../agent/pods/image-puller.js';
import type { NodeAddon, NodeAddonContext } from '../../agent/node-addon.js';
import { PVCS } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import { resolveCloudInitData } from '../cloud-init/cloud-init-data.js';
import { IsoInvalidError, makeIso } from '../cloud-init/genisoimage.js';
import { writeConfigDriveIso, writeNoCloudIso } from '../cloud-init/seed-iso.js';
import { createQcow2, imageInfo, QemuImgError } from '../cdi/qemu-img.js';
import { migrationStateOf } from '../migration/migration-state.js';
import { VMIS } from '../controllers/vm-api.js';
import { ANN_DOMAIN, APP_VIRT_LAUNCHER, COMPUTE_CONTAINER, CONTAINER_DISK_DIR, FILES, LABEL_ACCEL, LABEL_APP, LABEL_CREATED_BY, PRIVATE_DIR } from '../launcher/layout.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { udhcpdConfig } from '../net/dhcp-server.js';
import { setupMasqueradeDatapath } from '../net/masquerade.js';
import { BridgeBindingError, setupPodBridgeBinding } from '../net/bridge-binding.js';
import type { Accel } from '../qemu/qemu-args.js';
import { qemuArgs } from '../qemu/qemu-args.js';
import { QEMU_BINARY } from '../qemu/qemu-process.js';
import { bridgeNics, type ContainerDisk, copiedDiskIds, launchPlan, LaunchPlanError, type LaunchPlan, podNic } from './launch-plan.js';
import { GuestFreezer } from './guest-freeze.js';
import { LauncherSession } from './launcher-session.js';
import { MigrationHandler, type MigrationLauncher } from './migration-handler.js';
import type { MigrationTlsSource } from './migration-tls.js';
import { sourceHandedOver } from './migration-status.js';
import { type LauncherSockets, VirtNodeError, type VirtNodeControl } from './virt-node-control.js';
import { withNodeStatus } from './vmi-node-status.js';
import { rfc3339 } from '../../controllers/util/nodes.js';

const SECRETS = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' } as const;

export interface VirtHandlerDeps {
  ctx: NodeAddonContext;
  /** The agent's informer of the pods bound to this node. */
  pods: Informer<Pod>;
  /** Host pid of a running container's main process. */
  containerPid: (podUid: string, container: string) => Promise<number | undefined>;
  /** The pod's network namespace name. */
  podNetns: (podUid: string) => string;
  /** The node's accelerator, once the KVM probe has answered. */
  accel: () => Accel | undefined;
  /**
   * The unpacked root of a containerDisk's image, pulled as the kubelet pulls a container's
   * (pull policy, the pod's imagePullSecrets, events and back-off on the launcher pod).
   */
  containerDiskImage: (pod: Pod, container: Container) => Promise<string>;
  /** The address this node's migration proxies listen on (its InternalIP). */
  nodeAddress: string;
  /** Routes a migration target pod's handed-over IP to this node (called once the guest runs here). */
  activatePodIpHandoff: (podUid: string) => Promise<void>;
  /** The node's certificates for TLS on the migration stream. */
  migrationTls: MigrationTlsSource;
}

interface Live {
  vmiUid: string;
  podUid: string;
  root: string;
  session: LauncherSession;
}

const exists = (p: string) => access(p).then(() => true, () => false);
const isLauncher = (p: Pod) => p.metadata.labels?.[LABEL_APP] === APP_VIRT_LAUNCHER;
const running = (p: Pod) => !!p.status?.containerStatuses?.find((c) => c.name === COMPUTE_CONTAINER)?.state?.running;

export class VirtHandler implements NodeAddon, VirtNodeControl {
  private readonly vmis: Informer<Vmi>;
  private readonly pvcs: Informer<KubeObject>;
  private readonly queue = new WorkQueue<string>({ name: 'virt-handler' });
  private readonly live = new Map<string, Live>();
  private readonly ac = new AbortController();
  private readonly freezer = new GuestFreezer();
  private runner?: { stop(): Promise<void> } | undefined;
  private readonly migrations: MigrationHandler;

  constructor(private readonly d: VirtHandlerDeps) {
    this.vmis = d.ctx.informers.forResource<Vmi>(VMIS);
    this.migrations = new MigrationHandler({ ctx: d.ctx, nodeAddress: d.nodeAddress, activatePodIpHandoff: d.activatePodIpHandoff, requeue: (k) => this.queue.add(k), tls: d.migrationTls });
    this.pvcs = d.ctx.informers.forResource<KubeObject>(PVCS);
    const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
    const onVmi = (o: Vmi) => this.queue.add(key(o));
    this.vmis.addEventHandler({ onAdd: onVmi, onUpdate: (_o, n) => onVmi(n), onDelete: (o) => onVmi(finalStateOf(o)) });
    const onPod = (p: Pod) => {
      const name = isLauncher(p) ? p.metadata.annotations?.[ANN_DOMAIN] : undefined;
      if (name) this.queue.add(`${p.metadata.namespace}/${name}`);
    };
    d.pods.addEventHandler({ onAdd: onPod, onUpdate: (_o, n) => onPod(n), onDelete: (o) => onPod(finalStateOf(o)) });
  }

  async start(): Promise<void> {
    const c = runController({
      name: 'virt-handler',
      queue: this.queue,
      reconcile: async (key) => this.reconcile(key),
      informers: [this.vmis, this.pvcs],
      workers: 2,
      signal: this.ac.signal,
      logger: this.d.ctx.logger,
    });
    this.runner = c;
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.runner?.stop();
    await this.migrations.stop();
    this.freezer.stop();
    // QEMU keeps running; the next agent reconnects.
    for (const l of this.live.values()) l.session.close();
    this.live.clear();
  }

  // ---- VirtNodeControl ----

  sockets(namespace: string, name: string): LauncherSockets {
    const l = this.liveFor(namespace, name);
    const p = (f: string) => `${l.root}${PRIVATE_DIR}/${f}`;
    return { serial: p(FILES.serial), serialLog: p(FILES.serialLog), vnc: p(FILES.vnc) };
  }

  async pause(namespace: string, name: string): Promise<void> {
    const l = this.liveFor(namespace, name);
    if (l.session.state().userPaused) throw new VirtNodeError(409, 'VMI is already paused');
    await l.session.pause();
    this.event(namespace, name, 'Paused', 'VirtualMachineInstance paused');
  }

  async unpause(namespace: string, name: string): Promise<void> {
    const l = this.liveFor(namespace, name);
    if (!l.session.state().userPaused) throw new VirtNodeError(409, 'VMI is not paused');
    await l.session.unpause();
    this.event(namespace, name, 'Unpaused', 'VirtualMachineInstance unpaused');
  }

  async freeze(namespace: string, name: string, unfreezeTimeoutSeconds: number): Promise<void> {
    // KubeVirt refuses a freeze mid-migration: the guest would move on frozen.
    const migration = migrationStateOf(this.vmis.store.getByName(name, namespace));
    if (migration && !migration.completed) throw new VirtNodeError(409, 'failed to freeze VMI, VMI is currently during migration');
    const l = this.liveFor(namespace, name);
    await this.freezer.freeze(`${l.root}${PRIVATE_DIR}/${FILES.guestAgent}`, unfreezeTimeoutSeconds);
  }

  async unfreeze(namespace: string, name: string): Promise<void> {
    const l = this.liveFor(namespace, name);
    await this.freezer.unfreeze(`${l.root}${PRIVATE_DIR}/${FILES.guestAgent}`);
  }

  /** A Normal event on the VMI, as virt-handler records pause and unpause. */
  private event(namespace: string, name: string, reason: string, message: string): void {
    const vmi = this.vmis.store.getByName(name, namespace);
    if (vmi) this.d.ctx.recorder.event(vmi, 'Normal', reason, message);
  }

  private liveFor(namespace: string, name: string): Live {
    const l = this.live.get(`${namespace}/${name}`);
    if (!l || l.session.isClosed) throw new VirtNodeError(409, `VMI ${name} is not running on node ${this.d.ctx.nodeName}`);
    return l;
  }

  // ---- the loop ----

  private drop(key: string): void {
    this.live.get(key)?.session.close();
    this.live.delete(key);
    this.migrations.forget(key);
  }

  private launcherPod(vmi: Vmi): Pod | undefined {
    return this.d.pods.store
      .byNamespace(vmi.metadata.namespace!)
      .filter((p) => isLauncher(p) && p.metadata.labels?.[LABEL_CREATED_BY] === vmi.metadata.uid && p.spec.nodeName === this.d.ctx.nodeName)
      .sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''))[0];
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const [ns, name] = key.split('/') as [string, string];
    const vmi = this.vmis.store.getByName(name, ns);
    const cur = this.live.get(key);
    const phase = vmi?.status?.phase;
    if (!vmi || phase === 'Succeeded' || phase === 'Failed' || (cur && cur.vmiUid !== vmi.metadata.uid)) this.drop(key);
    if (!vmi || phase === 'Succeeded' || phase === 'Failed') return;
    const me = this.d.ctx.nodeName;
    const ms = migrationStateOf(vmi);
    if (vmi.status?.nodeName !== me) {
      if (this.migrations.isTarget(vmi)) return this.reconcileTarget(key, vmi);
      if (sourceHandedOver(ms, me, vmi.status?.nodeName)) return this.endSource(key, vmi);
      return;
    }
    const pod = this.launcherPod(vmi);
    if (!pod || !running(pod)) return;
    const live = this.live.get(key);
    if (pod.metadata.deletionTimestamp) {
      if (live && !live.session.poweredDown) {
        await live.session.powerdown().catch(() => undefined);
        this.d.ctx.recorder.event(vmi, 'Normal', 'ShuttingDown', 'Signaled Graceful Shutdown');
      }
      return;
    }
    const l = await this.ensureSession(key, vmi, pod, { launch: 'normal' });
    if (!('session' in l)) return l;
    await this.writeStatus(vmi, pod);
    if (ms) await this.migrations.source(key, vmi, this.migrationLauncher(vmi, pod, l));
  }

  /** The VMI's live session on this pod: reconnected, or launched first (the argv file marks a launch done). */
  private async ensureSession(key: string, vmi: Vmi, pod: Pod, o: { launch: 'normal' | 'incoming' | 'never' }): Promise<Live | { requeueAfterMs?: number }> {
    const live = this.live.get(key);
    if (live && !live.session.isClosed && live.podUid === pod.metadata.uid) return live;
    const pid = await this.d.containerPid(pod.metadata.uid!, COMPUTE_CONTAINER);
    if (!pid) return { requeueAfterMs: 500 };
    const root = `/proc/${pid}/root`;
    const argv = `${root}${PRIVATE_DIR}/${FILES.argv}`;
    if (!(await exists(argv))) {
      if (o.launch === 'never') return {};
      const launched = await this.launch(vmi, pod, root, o.launch === 'incoming');
      if (!launched) return { requeueAfterMs: 15_000 };
    }
    const session = await LauncherSession.connect(`${root}${PRIVATE_DIR}/${FILES.qmp}`, `${root}${PRIVATE_DIR}/${FILES.guestAgent}`).catch(() => undefined);
    if (!session) return { requeueAfterMs: 300 };
    session.on('change', () => this.queue.add(key));
    session.once('closed', () => this.queue.add(key));
    live?.session.close();
    const l = { vmiUid: vmi.metadata.uid!, podUid: pod.metadata.uid!, root, session };
    this.live.set(key, l);
    return l;
  }

  /** What a migration needs of a launcher: its session, root and the disks it copies. */
  private migrationLauncher(vmi: Vmi, pod: Pod, l: Live): MigrationLauncher {
    let copiedDisks: string[] = [];
    try {
      copiedDisks = copiedDiskIds(launchPlan(vmi, pod, this.d.accel() ?? 'tcg'));
    } catch (e) {
      // A VMI whose plan is refused never ran; it has no disks to copy.
      if (!(e instanceof LaunchPlanError)) throw e;
    }
    return { session: l.session, root: l.root, copiedDisks };
  }

  /** The migration target: its launcher pod (migrationState.targetPod) on this node, launched to wait for the guest. */
  private async reconcileTarget(key: string, vmi: Vmi): Promise<{ requeueAfterMs?: number } | void> {
    const ms = migrationStateOf(vmi)!;
    const pod = this.d.pods.store.getByName(ms.targetPod, vmi.metadata.namespace);
    if (!pod || pod.spec.nodeName !== this.d.ctx.nodeName || pod.metadata.labels?.[LABEL_CREATED_BY] !== vmi.metadata.uid || !running(pod) || pod.metadata.deletionTimestamp) {
      if (!pod || pod.metadata.deletionTimestamp) this.drop(key);
      return;
    }
    const l = await this.ensureSession(key, vmi, pod, { launch: 'incoming' });
    if (!('session' in l)) return l;
    return this.migrations.target(key, vmi, pod, this.migrationLauncher(vmi, pod, l));
  }

  /** The guest runs on the target and the VMI moved there: the source's QEMU ends (its pod Succeeds). */
  private async endSource(key: string, vmi: Vmi): Promise<{ requeueAfterMs?: number } | void> {
    const ms = migrationStateOf(vmi)!;
    let live = this.live.get(key);
    if (!live || live.session.isClosed) {
      // An agent restarted after the move: find the source pod's QEMU to end it.
      const pod = this.d.pods.store.getByName(ms.sourcePod, vmi.metadata.namespace);
      if (!pod || pod.spec.nodeName !== this.d.ctx.nodeName || !running(pod)) return;
      const l = await this.ensureSession(key, vmi, pod, { launch: 'never' });
      if (!('session' in l)) return l;
      live = l;
    }
    // Only a QEMU that handed its guest over, never one running a guest (asked now: no event marks the end of a migration).
    const st = await live.session.qmp.queryStatus().then((x) => x.status, () => undefined);
    if (st === 'postmigrate') {
      this.d.ctx.logger({ level: 'info', msg: 'ending the migration source QEMU', vmi: key, migration: ms.migrationUid });
      await live.session.quit();
    }
    this.drop(key);
  }

  /** Network, ISOs, disks, argv. false when the VMI cannot be launched as it is (an event says why). */
  private async launch(vmi: Vmi, pod: Pod, root: string, incoming: boolean): Promise<boolean> {
    const accel = this.d.accel();
    if (!accel) return false;
    let plan: LaunchPlan;
    try {
      plan = launchPlan(vmi, pod, accel);
    } catch (e) {
      if (!(e instanceof LaunchPlanError)) throw e;
      this.d.ctx.recorder.event(vmi, 'Warning', 'SyncFailed', e.message);
      return false;
    }
    const inRoot = (p: string) => `${root}${p}`;
    if (plan.podNic) {
      if (!pod.status?.podIP) return false;
      const resolv = await readFile(inRoot('/etc/resolv.conf'), 'utf8').catch(() => '');
      const dns = [...resolv.matchAll(/^nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1]!);
      const search = /^search\s+(.+)$/m.exec(resolv)?.[1]?.trim().split(/\s+/) ?? [];
      const dhcp = await setupMasqueradeDatapath({
        netns: this.d.podNetns(pod.metadata.uid!),
        podIp: pod.status.podIP,
        guestMac: plan.podNic.mac,
        tap: plan.podNic.tap,
        ...(plan.podNic.ports ? { ports: plan.podNic.ports } : {}),
        dns,
        searchDomains: search,
        hostname: vmi.spec.hostname ?? vmi.metadata.name,
        dir: PRIVATE_DIR,
        tapOwner: 0,
      });
      await writeFile(inRoot(`${PRIVATE_DIR}/udhcpd.leases`), '');
      await writeFile(inRoot(`${PRIVATE_DIR}/${FILES.dhcpConf}`), udhcpdConfig(dhcp));
    }
    for (const b of plan.bridgeNics) {
      try {
        await setupPodBridgeBinding({ netns: this.d.podNetns(pod.metadata.uid!), podIface: b.podIface, bridge: b.bridge, tap: b.tap, tapOwner: 0 });
      } catch (e) {
        if (!(e instanceof BridgeBindingError)) throw e;
        this.d.ctx.recorder.event(vmi, 'Warning', 'SyncFailed', `interface ${b.name}: ${e.message}`);
        return false;
      }
    }
    const secret = async (secretName: string) => {
      try {
        const s = await this.d.ctx.client.resource<KubeObject & { data?: Record<string, string> }>(SECRETS).get(secretName, vmi.metadata.namespace);
        return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    };
    for (const ci of plan.cloudInit) {
      const i = vmi.spec.volumes!.findIndex((v) => v.name === ci.volume);
      let data;
      try {
        data = await resolveCloudInitData(ci.source, `spec.volumes[${i}].${ci.kind === 'noCloud' ? 'cloudInitNoCloud' : 'cloudInitConfigDrive'}`, secret);
      } catch (e) {
        this.d.ctx.recorder.event(vmi, 'Warning', 'SyncFailed', (e as Error).message);
        return false;
      }
      await mkdir(dirname(inRoot(ci.path)), { recursive: true });
      // KubeVirt's instance id and hostname for the seed.
      const id = { instanceId: `${vmi.metadata.name}.${vmi.metadata.namespace}`, hostname: vmi.spec.hostname ?? vmi.metadata.name! };
      await (ci.kind === 'noCloud' ? writeNoCloudIso : writeConfigDriveIso)(inRoot(ci.path), id, data);
    }
    for (const c of plan.configIsos) {
      // The kubelet's atomic-writer layout: the keys are links into `..data`; its internals stay out.
      const names = (await readdir(inRoot(c.sourceDir))).filter((n) => !n.startsWith('..'));
      const files: Record<string, Buffer> = {};
      for (const n of names) {
        const p = resolveInRoot(root, `${c.sourceDir}/${n}`);
        if ((await lstat(p)).isFile()) files[n] = await readFile(p);
      }
      await mkdir(dirname(inRoot(c.path)), { recursive: true });
      try {
        await makeIso(inRoot(c.path), c.label, files);
      } catch (e) {
        if (!(e instanceof IsoInvalidError)) throw e;
        this.d.ctx.recorder.event(vmi, 'Warning', 'SyncFailed', `volume ${c.volume}: ${e.message}`);
        return false;
      }
    }
    for (const d of plan.emptyDisks) if (!(await exists(inRoot(d.path)))) await createQcow2(inRoot(d.path), d.capacityBytes);
    for (const cd of plan.containerDisks) {
      const format = await this.copyContainerDisk(vmi, pod, cd, inRoot(cd.path));
      if (!format) return false;
      plan.machine.disks![cd.diskIndex]!.format = format;
    }
    if (incoming) {
      // The guest's state, paused or running, comes with the migration stream.
      delete plan.machine.startPaused;
      plan.machine.incoming = 'defer';
    }
    const args = [QEMU_BINARY, ...qemuArgs(plan.machine)];
    if (args.some((a) => a.includes('\n'))) throw new Error('a QEMU argument holds a newline');
    const argv = inRoot(`${PRIVATE_DIR}/${FILES.argv}`);
    await writeFile(`${argv}.tmp`, args.join('\n') + '\n');
    await rename(`${argv}.tmp`, argv);
    if (!incoming) this.d.ctx.recorder.event(vmi, 'Normal', 'Created', 'VirtualMachineInstance defined.');
    return true;
  }

  /** Copies the containerDisk's file out of its image; its format, or undefined when it cannot be had yet (an event says why). */
  private async copyContainerDisk(vmi: Vmi, pod: Pod, cd: ContainerDisk, dest: string): Promise<'raw' | 'qcow2' | undefined> {
    let root: string;
    try {
      root = await this.d.containerDiskImage(pod, { name: `volume${cd.volume}`, image: cd.image, ...(cd.imagePullPolicy ? { imagePullPolicy: cd.imagePullPolicy } : {}) });
    } catch (e) {
      if (!(e instanceof ImagePullError)) throw e;
      this.d.ctx.recorder.event(vmi, 'Warning', 'SyncFailed', `containerDisk ${cd.volume}: ${e.message}`);
      return undefined;
    }
    const fail = (msg: string) => {
      this.d.ctx.recorder.event(vmi, 'Warning', 'SyncFailed', `containerDisk ${cd.volume}: ${msg}`);
      return undefined;
    };
    // Resolved inside the image's root: a symlink in a hostile image never reaches a host file.
    let src: string;
    if (cd.pathInImage) {
      src = resolveInRoot(root, cd.pathInImage);
    } else {
      const files = (await readdir(resolveInRoot(root, CONTAINER_DISK_DIR), { withFileTypes: true }).catch(() => [])).filter((f) => f.isFile());
      if (files.length !== 1) return fail(`image ${cd.image} must hold exactly one file under ${CONTAINER_DISK_DIR} (found ${files.length})`);
      src = resolveInRoot(root, `${CONTAINER_DISK_DIR}/${files[0]!.name}`);
    }
    if (!(await lstat(src).then((st) => st.isFile(), () => false))) return fail(`image ${cd.image} has no file ${cd.pathInImage ?? CONTAINER_DISK_DIR}`);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(src, `${dest}.tmp`, constants.COPYFILE_FICLONE);
    let info;
    try {
      info = await imageInfo(`${dest}.tmp`);
    } catch (e) {
      if (!(e instanceof QemuImgError)) throw e;
      return fail(e.message);
    }
    if (info.format !== 'raw' && info.format !== 'qcow2') return fail(`image format ${info.format} is not supported (raw, qcow2)`);
    if (info.backingFile) return fail('images with a backing file are not supported');
    await rename(`${dest}.tmp`, dest);
    return info.format;
  }

  private unsharedClaims(vmi: Vmi): string[] {
    const names = (vmi.spec.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName ?? v.dataVolume?.name).filter((n): n is string => !!n);
    return names.filter((n) => {
      const pvc = this.pvcs.store.getByName(n, vmi.metadata.namespace) as (KubeObject & { spec?: { accessModes?: string[] } }) | undefined;
      return !pvc?.spec?.accessModes?.includes('ReadWriteMany');
    });
  }

  private async writeStatus(vmi: Vmi, pod: Pod): Promise<void> {
    const live = this.live.get(`${vmi.metadata.namespace}/${vmi.metadata.name}`)!;
    const phase = vmi.status?.phase;
    if (phase !== 'Scheduled' && phase !== 'Running') return;
    let nic;
    let bridged;
    try {
      nic = podNic(vmi);
      bridged = bridgeNics(vmi);
    } catch {
      // An interface the launch refused never reaches Running; nothing to report for it.
      nic = undefined;
    }
    const status = withNodeStatus({ vmi, podIP: pod.status?.podIP, nic, bridgeNics: bridged, session: live.session.state(), unsharedClaims: this.unsharedClaims(vmi), now: rfc3339() });
    const accel = this.d.accel();
    const annotations = accel && vmi.metadata.annotations?.[LABEL_ACCEL] !== accel ? { ...vmi.metadata.annotations, [LABEL_ACCEL]: accel } : vmi.metadata.annotations;
    if (JSON.stringify(status) === JSON.stringify(vmi.status) && annotations === vmi.metadata.annotations) return;
    const started = phase === 'Scheduled';
    try {
      await this.d.ctx.client.resource<Vmi>(VMIS).update({ ...vmi, metadata: { ...vmi.metadata, annotations }, status }, { namespace: vmi.metadata.namespace });
    } catch (e) {
      // The cache is behind (the controller wrote too): the update event requeues.
      if (isConflict(e) || isNotFound(e)) return;
      throw e;
    }
    if (started) this.d.ctx.recorder.event(vmi, 'Normal', 'Started', 'VirtualMachineInstance started.');
  }
}
