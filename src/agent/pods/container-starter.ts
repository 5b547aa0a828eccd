/**
 * Starting one container instance of a pod, the kubelet's startContainer: image, environment,
 * root filesystem, mounts, the OCI spec, create + start, then the postStart hook. Every
 * failure is a typed StartFailure carrying the waiting reason the pod status shows
 * (ErrImagePull, CreateContainerConfigError, ...) and the event already posted.
 */
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ImageStore } from '../images/store.js';
import { ContainerStartError, type RuncRuntime } from '../runtime/container-runtime.js';
import { buildOciSpec, type ContainerDevice, type ContainerMount, SpecError } from '../runtime/oci-spec.js';
import { restrictOomScoreAdj } from '../runtime/oom-score-adj.js';
import { coreRlimit } from '../crash/core-rlimit.js';
import { runLifecycleHandler } from '../probes/lifecycle-hooks.js';
import type { ProbeTarget } from '../probes/probe.js';
import { containerDevices } from '../volumes/container-devices.js';
import { containerMounts } from '../volumes/container-mounts.js';
import type { PreparedVolume } from '../volumes/plugin.js';
import type { Container, Pod, PodObjectSource } from './api-types.js';
import { buildContainerConfig, podCgroupPath } from './container-config.js';
import { resolveEnv } from './env.js';
import { ContainerConfigError } from './errors.js';
import { ImagePullError, type EventSink, type ImagePuller } from './image-puller.js';
import type { ContainerKind, PodRecords } from './pod-records.js';
import type { Sandbox } from './pod-sandbox.js';

export class StartFailure extends Error {
  constructor(
    /** The waiting reason for the container status. */
    readonly reason: string,
    message: string,
    /** Try again no sooner than this (ms). */
    readonly retryAfterMs = 0,
  ) {
    super(message);
    this.name = 'StartFailure';
  }
}

export interface StarterDeps {
  records: PodRecords;
  runtime: RuncRuntime;
  images: ImageStore;
  puller: ImagePuller;
  objects: PodObjectSource;
  event: EventSink;
  nodeName: string;
  nodeIP: string;
  cgroupRoot: string;
  memoryCapacityBytes: number;
  /** Service environment variables: the namespace's (enableServiceLinks) and the master service's. */
  serviceEnv?: (namespace: string) => { services: Record<string, string>; master: Record<string, string> };
  target: (pod: Pod, c: Container, containerId: string, podIP: string) => ProbeTarget;
  /** Host mounts granted to an image by manifest digest (only images the agent built: host-tools-image.ts). */
  hostMounts?: (manifestDigest: string) => ContainerMount[];
  /** Host devices for the extended resources a container asks for (device-plugins.ts). */
  resourceDevices?: (c: Container) => ContainerDevice[];
}

export interface StartRequest {
  pod: Pod;
  container: Container;
  kind: Exclude<ContainerKind, 'sandbox'>;
  attempt: number;
  sandbox: Sandbox;
  volumes: Map<string, PreparedVolume>;
}

export class ContainerStarter {
  constructor(private readonly d: StarterDeps) {}

  /** Starts the instance; returns its container id. Throws StartFailure. */
  async start(req: StartRequest): Promise<string> {
    const { pod, container: c, sandbox } = req;
    const uid = pod.metadata.uid!;
    const d = this.d;
    let image;
    try {
      image = await d.puller.ensure(pod, c);
    } catch (e) {
      if (e instanceof ImagePullError) throw new StartFailure(e.reason, e.message, e.retryAfterMs);
      throw e;
    }
    const id = d.records.containerId({ podUid: uid, container: c.name, attempt: req.attempt });
    let env: string[];
    let config;
    const bundle = d.records.bundleDir(id, uid);
    const termLog = d.records.terminationLog(uid, c.name, req.attempt);
    try {
      const svcEnv = d.serviceEnv?.(pod.metadata.namespace ?? '');
      env = resolveEnv(pod, c, d.objects, { serviceEnv: svcEnv?.services, masterServiceEnv: svcEnv?.master, podIP: sandbox.podIP, hostIP: d.nodeIP, nodeName: d.nodeName });
      // containerd gives every container HOSTNAME (the pod's hostname).
      if (!env.some((e) => e.startsWith('HOSTNAME='))) env.unshift(`HOSTNAME=${sandbox.hostname}`);
      const envMap = Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
      await mkdir(dirname(termLog), { recursive: true });
      await writeFile(termLog, '', { mode: 0o666 });
      const mounts = [...(d.hostMounts?.(image.digest) ?? []), ...containerMounts(pod, c, req.volumes, envMap, {
        etcHosts: sandbox.files.hosts,
        resolvConf: sandbox.files.resolvConf,
        hostnameFile: sandbox.files.hostname,
        terminationLog: { hostPath: termLog, containerPath: c.terminationMessagePath || '/dev/termination-log' },
      })];
      // A stale bundle of the same id (a crash between create and bookkeeping) is replaced.
      await this.removeLeftovers(id, bundle);
      const { rootfs } = await d.images.prepareRootfs(image, bundle);
      config = buildContainerConfig({
        pod,
        container: c,
        imageConfig: image.imageConfig,
        env,
        mounts,
        rootfs,
        cgroupsPath: `${podCgroupPath(d.cgroupRoot, pod)}/${id}`,
        namespaces: {
          network: { path: sandbox.netnsPath },
          pid: sandbox.pidNsPath ? { path: sandbox.pidNsPath } : 'new',
          ipc: 'new',
          uts: 'new',
        },
        hostname: sandbox.hostname,
        memoryCapacityBytes: d.memoryCapacityBytes,
      });
      config.devices = [...containerDevices(c, req.volumes), ...(d.resourceDevices?.(c) ?? [])];
      config.rlimits = [...(config.rlimits ?? []), coreRlimit()];
      // Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj (Guaranteed's -997) and the start fails.
      if (config.oomScoreAdj !== undefined) config.oomScoreAdj = restrictOomScoreAdj(config.oomScoreAdj);
    } catch (e) {
      if (e instanceof ContainerConfigError || e instanceof SpecError) {
        d.event(pod, 'Warning', 'Failed', `Error: ${e.message}`);
        throw new StartFailure('CreateContainerConfigError', e.message, 10_000);
      }
      throw e;
    }
    const labels = d.records.labels(pod, { podUid: uid, container: c.name, attempt: req.attempt, kind: req.kind }, c.image ?? '', image.repoDigests[0] ?? image.id);
    await d.runtime.createContainer({ id, bundleDir: bundle, spec: buildOciSpec(config), logPath: d.records.logPath(uid, c.name, req.attempt), labels, stdin: !!c.stdin, stdinOnce: !!c.stdinOnce });
    d.event(pod, 'Normal', 'Created', `Created container ${c.name}`);
    try {
      await d.runtime.start(id);
    } catch (e) {
      if (e instanceof ContainerStartError) {
        d.event(pod, 'Warning', 'Failed', `Error: ${e.status.message ?? e.message}`);
        return id; // the instance exists and reports ContainerCannotRun; restarts follow the policy
      }
      throw e;
    }
    d.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
    if (c.lifecycle?.postStart) {
      const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
      const r = await runLifecycleHandler(c.lifecycle.postStart, d.target(pod, c, id, sandbox.podIP), Math.max(1, grace) * 1000);
      if (!r.ok) {
        d.event(pod, 'Warning', 'FailedPostStartHook', r.message);
        d.event(pod, 'Normal', 'Killing', `FailedPostStartHook`);
        await d.runtime.stop(id, grace);
      }
    }
    return id;
  }

  private async removeLeftovers(id: string, bundle: string): Promise<void> {
    try {
      await this.d.runtime.status(id);
      await this.d.runtime.remove(id);
    } catch {
      /* no such container: the usual case */
    }
    await this.d.images.releaseRootfs(bundle);
    await rm(bundle, { recursive: true, force: true });
  }
}
