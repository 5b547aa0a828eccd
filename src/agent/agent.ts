/**
 * The node agent, assembled: register the Node and keep its status and Lease current, set up the
 * node's pod network once the control plane has given it a podCIDR, then run the pod loop and
 * the streaming server the API server proxies logs, exec and port-forward to.
 *
 * Stopping the agent leaves containers running (as the kubelet does): the next agent over the
 * same data dir re-adopts them.
 */
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Client, HttpsTransport, loadKubeconfig, type Logger, SharedInformerFactory } from '../client/index.js';
import { EventRecorder } from '../controllers/events.js';
import { Ip } from '../net/ip.js';
import { Ipam } from '../net/ipam.js';
import { Nft } from '../net/nft.js';
import { PodNetwork } from '../net/pod-network.js';
import type { KubeObject } from '../util/object.js';
import { agentEndpoint, type AgentConfig } from './config.js';
import { CoreDumpCollector } from './crash/core-collector.js';
import { ImageStore } from './images/store.js';
import { seedBusyboxImage } from './images/busybox-image.js';
import { HostToolsImages } from './images/host-tools-image.js';
import { buildCdiImporterImage } from '../virt/cdi/importer-image.js';
import { buildVirtLauncherImage } from '../virt/launcher/launcher-image.js';
import { DevicePlugins } from './pods/device-plugins.js';
import { advertiseVirtCapabilities } from '../virt/handler/node-virt-capabilities.js';
import { VirtHandler } from '../virt/handler/virt-handler.js';
import { VirtNodeError } from '../virt/handler/virt-node-control.js';
import type { Accel } from '../virt/qemu/qemu-args.js';
import { NodeNetwork } from './node-network.js';
import { PodIpHandoffs } from './pod-ip-handoff.js';
import { NodeStatusManager } from './node/node-status.js';
import type { ConfigMapObject, Container, Pod, PodObjectSource, SecretObject } from './pods/api-types.js';
import { ContainerStarter } from './pods/container-starter.js';
import { podCgroupPath } from './pods/container-config.js';
import { HostPorts } from './pods/host-ports.js';
import { ImagePuller, ImagePullError } from './pods/image-puller.js';
import { PodManager, PODS } from './pods/pod-manager.js';
import { LABEL, PodRecords } from './pods/pod-records.js';
import { PodSandboxes } from './pods/pod-sandbox.js';
import { PodNetworkAttachments } from './pods/pod-attachments.js';
import { PodSyncer } from './pods/pod-syncer.js';
import { masterServiceEnv, namespaceServiceEnv } from './pods/service-env.js';
import { ProbeManager } from './probes/probe-manager.js';
import type { ProbeTarget } from './probes/probe.js';
import { RuncRuntime } from './runtime/container-runtime.js';
import { AgentServer } from './server/agent-server.js';
import { VolumeManager } from './volumes/volume-manager.js';
import { NodeStorage } from '../storage/node-storage.js';
import { BRIDGE } from '../net/overlay.js';
import { ServiceProxy } from '../proxy/service-proxy.js';
import { NetworkPolicyEnforcer } from '../netpol/policy-enforcer.js';
import { IngressController } from '../ingress/ingress-controller.js';
import type { NodeAddon, NodeAddonContext } from './node-addon.js';
import { join } from 'node:path';

export interface RunningAgent {
  /** The port the streaming server listens on. */
  port: number;
  stop(): Promise<void>;
}

const NODES = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' } as const;
const CONFIGMAPS = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' } as const;
const SERVICEACCOUNTS = { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount' } as const;
const SERVICES = { group: '', version: 'v1', plural: 'services', namespaced: true, kind: 'Service' } as const;
const SECRETS = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' } as const;

export async function startAgent(cfg: AgentConfig, logger: Logger): Promise<RunningAgent> {
  const ac = new AbortController();
  // Every informer's sync wait listens on it.
  setMaxListeners(0, ac.signal);
  const conn = loadKubeconfig(cfg.kubeconfig);
  if (!conn.ca) throw new Error(`kubeconfig ${cfg.kubeconfig} has no certificate-authority: the agent needs the cluster CA to check the API server's clients`);
  const client = new Client(new HttpsTransport(conn));
  const informers = new SharedInformerFactory(client, { logger });
  const recorder = new EventRecorder(client, 'kubelet', logger, cfg.nodeName);
  const event = (pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string) => recorder.event(pod, type, reason, message);

  // The streaming server first: the Node advertises its port.
  const runtime = new RuncRuntime({ dataDir: join(cfg.dataDir, 'runtime') });
  const records = new PodRecords(cfg.dataDir);
  const pods = informers.forResource<Pod>(PODS, { fieldSelector: `spec.nodeName=${cfg.nodeName}` });
  const nodes = informers.forResource<KubeObject>(NODES);
  const configMaps = informers.forResource<ConfigMapObject>(CONFIGMAPS);
  const secrets = informers.forResource<SecretObject>(SECRETS);
  const services = informers.forResource<KubeObject>(SERVICES);

  const devicePlugins = new DevicePlugins();
  const nodeStatus = new NodeStatusManager({
    client,
    config: cfg,
    logger,
    extendedResources: () => devicePlugins.resources(),
  });
  devicePlugins.onChange(() => nodeStatus.resourcesChanged());
  let manager: PodManager | undefined;
  let storage: NodeStorage | undefined;
  let virtHandler: VirtHandler | undefined;
  // The server starts before the VirtHandler exists (the Node advertises the server's port).
  const virt = (): VirtHandler => virtHandler ?? (() => {
    throw new VirtNodeError(409, 'the node is still starting');
  })();
  const server = new AgentServer({
    host: cfg.listenHost,
    port: cfg.listenPort,
    tls: { certPem: await readFile(cfg.tls.certFile, 'utf8'), keyPem: await readFile(cfg.tls.keyFile, 'utf8'), caPem: conn.ca.toString('utf8') },
    backend: {
      pod: (ns, name) => manager?.pod(ns, name),
      container: (pod, name) => manager!.container(pod, name),
      dialPod: (pod, port) => manager!.dialPod(pod, port),
    },
    runtime,
    metrics: async () => (await storage?.metrics()) ?? '',
    virt: { sockets: (ns, name) => virt().sockets(ns, name), pause: (ns, name) => virt().pause(ns, name), unpause: (ns, name) => virt().unpause(ns, name), freeze: (ns, name, t) => virt().freeze(ns, name, t), unfreeze: (ns, name) => virt().unfreeze(ns, name) },
    logger,
  });
  const { port } = await server.start();
  await nodeStatus.start({ agentEndpoint: agentEndpoint({ ...cfg, listenPort: port }) });

  const nodeIp = cfg.nodeNetns ? Ip.ns(cfg.nodeNetns) : Ip.root;
  const podCidr = await nodeStatus.waitForPodCIDR(ac.signal);
  // Pod IP handoff: `podIpHandoffs.activate(podUid)` routes a migration target's taken-over address here.
  const podIpHandoffs = new PodIpHandoffs({ client, nodeName: cfg.nodeName, node: nodeIp, nodes: () => nodes.store.list(), pod: (uid) => pods.store.byIndex('uid', uid)[0], logger });
  const nodeNet = new NodeNetwork({
    node: nodeIp,
    nodeName: cfg.nodeName,
    podCidr,
    clusterCidr: cfg.clusterCIDR,
    underlayIP: cfg.vtepIP ?? cfg.internalIP,
    underlayDev: cfg.underlayDev,
    mode: cfg.overlay,
    mtu: cfg.podMtu,
    nodes,
    handoffs: podIpHandoffs,
    logger,
  });
  const { annotations, mtu } = await nodeNet.setup();
  await nodeStatus.setAnnotations(annotations);

  const images = await new ImageStore(cfg.dataDir).init();
  // Every node carries the offline busybox base image (examples and debugging need no registry).
  await seedBusyboxImage(images).catch((e: Error) => logger({ level: 'warn', msg: 'no built-in busybox image', error: e.message }));
  // The CDI importer runs the node's own tools; only images built here get host mounts.
  const hostTools = new HostToolsImages();
  await hostTools.seed(images, buildCdiImporterImage()).catch((e: Error) => logger({ level: 'warn', msg: 'no built-in CDI importer image', error: e.message }));
  await hostTools.seed(images, buildVirtLauncherImage()).catch((e: Error) => logger({ level: 'warn', msg: 'no built-in virt-launcher image', error: e.message }));
  let accel: Accel | undefined;
  void advertiseVirtCapabilities({ devicePlugins, setLabels: (l) => nodeStatus.setLabels(l), dataDir: cfg.dataDir, signal: ac.signal }).then(
    (p) => {
      accel = p.accel;
      logger({ level: 'info', msg: 'virtualization', accel: p.accel, detail: p.detail });
    },
    (e: Error) => logger({ level: 'warn', msg: 'virtualization capabilities not advertised', error: e.message }),
  );
  const objects: PodObjectSource = {
    configMap: (ns, name) => configMaps.store.getByName(name, ns),
    secret: (ns, name) => secrets.store.getByName(name, ns),
    nodeAllocatable: () => nodeStatus.allocatable(),
  };
  const ipam = await Ipam.open({ dir: join(cfg.dataDir, 'ipam'), subnet: podCidr, reserved: () => podIpHandoffs.listed() });
  const network = new PodNetwork({ node: nodeIp, ipam, mtu, netnsPrefix: cfg.podNetnsPrefix, supersededIp: (ip) => podIpHandoffs.handedOff(ip) });
  podIpHandoffs.attach(network, ipam);
  const attachments = new PodNetworkAttachments({ client, node: nodeIp });
  const sandboxes = new PodSandboxes({
    records,
    network,
    runc: runtime.runc,
    nodeNetns: cfg.nodeNetns,
    nodeName: cfg.nodeName,
    nodeIP: cfg.internalIP,
    clusterDNS: cfg.clusterDNS,
    clusterDomain: cfg.clusterDomain,
    cgroupPath: (pod) => podCgroupPath(cfg.cgroupRoot, pod),
    onNetworkRemoved: () => nodeNet.kick(),
    attachments,
  });
  const target = (pod: Pod, c: Container, id: string, podIP: string): ProbeTarget => ({
    podIP,
    container: c,
    podDesc: `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
    exec: async (argv, timeoutMs) => {
      const r = await runtime.exec(id, argv, { timeoutMs });
      return { exitCode: r.exitCode, output: (r.stdout + r.stderr).slice(0, 10240), timedOut: r.timedOut };
    },
  });
  const puller = new ImagePuller(images, objects, event);
  storage = new NodeStorage({ client, informers, recorder, logger, nodeName: cfg.nodeName, dataDir: cfg.dataDir, podsDir: records.podsDir });
  const volumes = new VolumeManager({
    podsDir: records.podsDir,
    plugins: [storage.volumePlugin],
    source: objects,
    tokens: {
      request: async (ns, sa, o) => {
        const tr = await client.resource(SERVICEACCOUNTS).createSubresource<KubeObject & { status: { token: string; expirationTimestamp: string } }>(
          sa,
          'token',
          {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            metadata: { name: sa, namespace: ns },
            spec: { audiences: o.audiences ?? [], expirationSeconds: o.expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: o.boundPod.name, uid: o.boundPod.uid } },
          } as unknown as KubeObject & { status: { token: string; expirationTimestamp: string } },
          { namespace: ns },
        );
        return tr.status;
      },
    },
    nodeName: cfg.nodeName,
    logger,
  });
  let podManagerRef: PodManager | undefined;
  const probes = new ProbeManager({
    onChange: (uid) => podManagerRef?.wake(uid),
    event: (uid, type, reason, message) => {
      const pod = pods.store.byIndex('uid', uid)[0];
      if (pod) event(pod, type, reason, message);
    },
    logger,
  });
  const memoryCapacityBytes = nodeStatus.memoryCapacityBytes();
  const serviceEnv = (namespace: string) => {
    const all = services.store.list();
    return { services: namespaceServiceEnv(all, namespace), master: masterServiceEnv(all) };
  };
  const starter = new ContainerStarter({ records, runtime, images, puller, objects, event, nodeName: cfg.nodeName, nodeIP: cfg.internalIP, cgroupRoot: cfg.cgroupRoot, memoryCapacityBytes, target, serviceEnv, hostMounts: (digest) => hostTools.mountsFor(digest), resourceDevices: (c) => devicePlugins.devicesFor(c) });
  const syncer = new PodSyncer({
    records,
    runtime,
    images,
    puller,
    sandboxes,
    volumes,
    probes,
    starter,
    event,
    logger,
    nodeIP: cfg.internalIP,
    postStatus: (pod, st) => podManagerRef!.postStatus(pod, st),
    target,
  });
  const hostPorts = new HostPorts(new Nft({ netns: cfg.nodeNetns, family: 'ip', table: 'cairn' }));
  manager = new PodManager({
    client,
    pods,
    runtime,
    records,
    syncer,
    hostPorts,
    event,
    logger,
    netnsPath: (pod) => (pod.spec.hostNetwork ? (cfg.nodeNetns ? `/run/netns/${cfg.nodeNetns}` : '/proc/1/ns/net') : `/run/netns/${network.netnsName(pod.metadata.uid!)}`),
  });
  podManagerRef = manager;

  const cores = new CoreDumpCollector({ dataDir: cfg.dataDir, logger, cgroupPrefix: cfg.cgroupRoot });
  await cores.install();
  const coreTimer = setInterval(() => {
    void cores
      .collect((id) => {
        const inst = id && pods.store.list().find((p) => id.startsWith(`${p.metadata.uid}-`));
        return inst ? { podUid: inst.metadata.uid! } : undefined;
      })
      .then((found) => {
        for (const c of found) {
          const pod = pods.store.byIndex('uid', c.podUid)[0];
          if (pod) event(pod, 'Warning', 'CoreDumped', c.message);
        }
      })
      .catch((e: Error) => logger({ level: 'warn', msg: 'core dump collection failed', error: e.message }));
  }, 5_000);
  coreTimer.unref();

  // Image garbage collection when the disk fills (the kubelet's 85 % / 80 % thresholds); images
  // of any container the runtime still has are kept.
  const imageGcTimer = setInterval(() => {
    void (async () => {
      const inUse = (await runtime.list()).flatMap((st) => [st.labels[LABEL.image], st.labels[LABEL.imageID]].filter((x): x is string => !!x));
      const r = await images.gc({ inUse });
      if (r.removed.length) logger({ level: 'info', msg: 'image garbage collection', removed: r.removed, usageBefore: r.usagePercentBefore, usageAfter: r.usagePercentAfter });
    })().catch((e: Error) => logger({ level: 'warn', msg: 'image garbage collection failed', error: e.message }));
  }, 60_000);
  imageGcTimer.unref();

  // The node's Service proxy, NetworkPolicy enforcer and Ingress controller: they register their
  // informers now and start once the caches have synced.
  const addonCtx: NodeAddonContext = {
    client,
    informers,
    recorder,
    logger,
    nodeName: cfg.nodeName,
    nodeNetns: cfg.nodeNetns,
    node: nodeIp,
    nft: new Nft({ netns: cfg.nodeNetns, family: 'ip', table: 'cairn' }),
    internalIP: cfg.internalIP,
    underlayDev: cfg.underlayDev,
    podCidr,
    clusterCidr: cfg.clusterCIDR,
    serviceCidr: cfg.serviceCIDR,
    bridge: BRIDGE,
    gateway: nodeNet.overlay.gateway,
    dataDir: cfg.dataDir,
  };
  virtHandler = new VirtHandler({
    ctx: addonCtx,
    pods,
    containerPid: async (uid, container) => (await runtime.listFor(records.containerIdPrefix(uid, container))).find((c) => c.state === 'running')?.pid,
    podNetns: (uid) => network.netnsName(uid),
    containerDiskImage: async (pod, c) => {
      const rec = await puller.ensure(pod, c);
      if (!rec.chainID) throw new ImagePullError('ErrImagePull', `image ${c.image} has no layers`, 60_000);
      return images.snapshotPath(rec.chainID);
    },
    accel: () => accel,
    nodeAddress: cfg.internalIP,
    activatePodIpHandoff: async (uid) => void (await podIpHandoffs.activate(uid)),
    migrationTls: { caPem: conn.ca.toString('utf8'), servingCertFile: cfg.tls.certFile, servingKeyFile: cfg.tls.keyFile, clientCertPem: conn.clientCert?.toString('utf8'), clientKeyPem: conn.clientKey?.toString('utf8') },
  });
  const addons: NodeAddon[] = [new ServiceProxy(addonCtx), new NetworkPolicyEnforcer(addonCtx), new IngressController(addonCtx), storage, virtHandler];

  informers.start();
  await informers.waitForSync(ac.signal);
  nodeNet.start();
  for (const a of addons) await a.start();
  // Pod networks nobody owns any more (a crash between setup and bookkeeping): the live pods are
  // those the API binds here plus whatever is still on disk or in the runtime.
  const live = new Set([...pods.store.list().map((p) => p.metadata.uid!), ...(await records.podUidsOnDisk())]);
  for (const st of await runtime.list()) if (st.labels[LABEL.podUid]) live.add(st.labels[LABEL.podUid]!);
  const leaked = await network.gc(live);
  if (leaked.netns.length || leaked.addresses.length) logger({ level: 'info', msg: 'removed leaked pod networks', ...leaked });
  const leakedAttachments = await attachments.gc(live);
  if (leakedAttachments.length) logger({ level: 'info', msg: 'removed leaked pod network attachments', veths: leakedAttachments });
  await manager.start(ac.signal);
  logger({ level: 'info', msg: 'agent running', node: cfg.nodeName, podCIDR: podCidr, port });

  return {
    port,
    async stop() {
      ac.abort();
      clearInterval(coreTimer);
      clearInterval(imageGcTimer);
      nodeNet.stop();
      for (const a of addons) await a.stop();
      await manager!.stop();
      await server.stop();
      await nodeStatus.stop();
      await informers.stop();
      await cores.uninstall();
      await recorder.flush();
    },
  };
}
