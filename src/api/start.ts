/**
 * Assembles and starts a complete API server: store, PKI and admin kubeconfig, kinds and schemas,
 * the HTTPS front, bootstrap objects, CRD serving and compaction. `cairn server` and the tests
 * start servers through this one function.
 */
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Client, InProcessTransport } from '../client/index.js';
import { startControllerManager, type ControllerManager, type ControllerManagerOptions } from '../controllers/manager.js';
import { type AddNodesOptions, Simulator, type SimulatorOptions } from '../sim/simulator.js';
import { renderControllerMetrics } from '../controllers/metrics-text.js';
import { builtinKinds } from '../kinds/index.js';
import type { WatchSettings } from '../registry/watch.js';
import { SchemaCatalog } from '../schema/catalog.js';
import { OpenAPIV3Publisher } from '../schema/openapi-v3.js';
import { startCompactor, type Compactor } from '../store/compactor.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { Logger } from '../util/log.js';
import { ApiServer } from './api-server.js';
import { clientCertAuthenticator, tokenFileAuthenticator, type Authenticator } from './authn.js';
import { bootstrapKubernetesService, bootstrapNamespaces, KUBERNETES_SERVICE_IP, SYSTEM_USER } from './bootstrap.js';
import { CrdServing } from './crd-serving.js';
import { HttpsFront } from './https-front.js';
import { NodeProxy } from './node-proxy.js';
import { StreamingRouter } from './streaming-router.js';
import { VirtNodeProxy } from './virt-node-proxy.js';
import { writeKubeconfig } from './kubeconfig-writer.js';
import { createPatchEngine } from './patch-engine.js';
import { ensurePki, splitHostsForSan, type ClusterPki } from './pki.js';
import { schemaChecks } from './schema-checks.js';
import { serviceAccountAuthenticator, tokenRequestHandler, TokenIssuer } from './serviceaccount-tokens.js';
import { createPodBinding, podEvictionHandler } from './pod-subresources.js';
import type { ApiHandler } from './types.js';
import { AuditLog, type AuditLevel } from './audit.js';
import { AccessControl } from './authz/access.js';
import { bootstrapRbac } from './authz/bootstrap-policy.js';
import { bootstrapCrds } from './bootstrap-crds.js';
import { rbacEscalationAdmission } from './authz/escalation.js';
import { serviceAccountAdmission } from './admission/service-account.js';
import { defaultStorageClassAdmission } from './admission/default-storage-class.js';
import { pvcResizeAdmission } from './admission/pvc-resize.js';
import { kubevirtAdmission } from '../virt/api/vmi-admission.js';
import { podIpHandoffAdmission } from './admission/pod-ip-handoff.js';
import { migrationAdmission } from '../virt/api/vmim-admission.js';
import { snapshotAdmission } from '../virt/api/vm-snapshot-admission.js';
import { dataVolumeAdmission } from '../virt/cdi/datavolume-admission.js';
import { launcherEvictionAdmission } from '../virt/api/vmim-admission-eviction.js';
import { RbacAuthorizer } from './authz/rbac.js';
import { reviewResources } from './authz/reviews.js';
import { EncryptingStore, ensureEncryptionConfig, readEncryptionConfig } from '../store/encryption.js';
import { kubevirtSubresources } from '../virt/api/subresource-api.js';

export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  store: 'sqlite' | 'etcd';
  etcdEndpoints?: string[];
  /** Key prefix inside etcd, so several clusters can share one etcd (tests do). */
  etcdPrefix?: string;
  tokenFile?: string;
  /** Extra names/addresses for the serving certificate. */
  advertise?: string[];
  /** More addresses to listen on at the same port (`--listen` given more than once). */
  extraHosts?: string[];
  compactionIntervalMs?: number;
  /** Run the controllers and scheduler in this process (default true). */
  controllers?: boolean;
  /** LoadBalancer Service addresses come from this pool (`--lb-pool CIDR`). */
  lbPool?: string;
  /** Options for the controller manager (cluster settings such as node lifecycle timings; tests shorten them). */
  controllerOptions?: ControllerManagerOptions;
  /** Register and run this many simulated nodes in this process (`--simulated-nodes N`). */
  simulatedNodes?: number;
  simulator?: SimulatorOptions & AddNodesOptions;
  watch?: Partial<WatchSettings>;
  logger?: Logger;
  /** The audit log: a file (default DATA/audit.log), '-' for stderr, false for none. */
  auditLog?: string | false;
  /** Audit level (default Metadata: no bodies). */
  auditLevel?: AuditLevel;
  /** Encryption-at-rest keys (default DATA/encryption.json, created on first start). */
  encryptionConfig?: string;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  kubeconfigPath: string;
  pki: ClusterPki;
  api: ApiServer;
  store: Store;
  /** The in-process entry point (for the in-process client transport). */
  handler: ApiHandler;
  /** The simulated nodes this process runs (with --simulated-nodes). */
  simulator?: Simulator;
  stop(): Promise<void>;
}

export async function startServer(cfg: ServerConfig): Promise<RunningServer> {
  const log = cfg.logger ?? new Logger('apiserver');
  await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  // Bookmarks can only report revisions the store has confirmed as delivered (progress
  // notifications), so a bookmark interval shorter than the store's default progress interval
  // asks the store for progress that often.
  const bookmarkMs = cfg.watch?.bookmarkIntervalMs;
  const progressIntervalMs = bookmarkMs !== undefined && bookmarkMs < 5000 ? Math.max(bookmarkMs, 50) : undefined;
  // Read the encryption keys before opening the store: a bad key file stops the start cleanly.
  const encryption = cfg.encryptionConfig ? await readEncryptionConfig(cfg.encryptionConfig) : await ensureEncryptionConfig(cfg.dataDir);
  const rawStore =
    cfg.store === 'etcd'
      ? await openStore({ backend: 'etcd', endpoints: cfg.etcdEndpoints ?? ['http://127.0.0.1:2379'], prefix: cfg.etcdPrefix, progressIntervalMs })
      : await openStore({ backend: 'sqlite', path: join(cfg.dataDir, 'cairn.db'), progressIntervalMs });
  const store = new EncryptingStore(rawStore, encryption);
  let rbac: RbacAuthorizer | undefined;
  let audit: AuditLog | undefined;
  let front: HttpsFront | undefined;
  let compactor: Compactor | undefined;
  let crds: CrdServing | undefined;
  let controllers: ControllerManager | undefined;
  let simulator: Simulator | undefined;
  try {
    const pki = await ensurePki(cfg.dataDir, splitHostsForSan([cfg.host, ...(cfg.extraHosts ?? []), ...(cfg.advertise ?? []), KUBERNETES_SERVICE_IP]));
    const schemas = new SchemaCatalog();
    const tokens = new TokenIssuer(pki.serviceAccountKeyPem);
    // RBAC reads roles and bindings through informers over the in-process transport.
    const authz = new RbacAuthorizer(new Client(new InProcessTransport((r) => api.handle(r), SYSTEM_USER)));
    rbac = authz;
    const api: ApiServer = new ApiServer({
      store,
      kinds: builtinKinds(),
      patches: createPatchEngine(schemas),
      schema: schemaChecks(schemas),
      openapi: (catalog) => {
        schemas.setKinds(catalog.all());
        catalog.onChange(() => schemas.setKinds(catalog.all()));
        return new OpenAPIV3Publisher(schemas);
      },
      watch: cfg.watch,
      actions: [
        { resource: '/pods', name: 'binding', kind: 'Binding', handler: createPodBinding },
        { resource: '/pods', name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', handler: podEvictionHandler([launcherEvictionAdmission({ registry: () => api.registry, catalog: () => api.catalog })]) },
        { resource: '/serviceaccounts', name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', handler: tokenRequestHandler(tokens, () => api.catalog) },
      ],
      virtual: reviewResources(authz),
      extensions: [kubevirtSubresources],
      access: new AccessControl(authz),
      admission: [
        rbacEscalationAdmission(() => authz),
        serviceAccountAdmission({ registry: () => api.registry, catalog: () => api.catalog }),
        defaultStorageClassAdmission({ registry: () => api.registry, catalog: () => api.catalog }),
        pvcResizeAdmission({ registry: () => api.registry, catalog: () => api.catalog }),
        kubevirtAdmission(),
        podIpHandoffAdmission(),
        migrationAdmission({ registry: () => api.registry, catalog: () => api.catalog }),
        snapshotAdmission({ registry: () => api.registry, catalog: () => api.catalog }),
        dataVolumeAdmission({ registry: () => api.registry, catalog: () => api.catalog, authz: () => authz }),
      ],
      logger: log,
    });
    const rewritten = await store.rewriteStale();
    if (rewritten) log.info('re-encrypted stored values with the current key', { count: rewritten });
    await bootstrapRbac(api, SYSTEM_USER);
    authz.start();
    await authz.waitForSync();
    if (cfg.auditLog !== false) audit = new AuditLog({ path: cfg.auditLog ?? join(cfg.dataDir, 'audit.log'), level: cfg.auditLevel });
    const authenticators: Authenticator[] = [clientCertAuthenticator];
    if (cfg.tokenFile) authenticators.push(tokenFileAuthenticator(cfg.tokenFile));
    authenticators.push(serviceAccountAuthenticator(tokens, api.registry, api.catalog));
    const nodeProxy = new NodeProxy({ api, caPem: pki.ca.certPem, clientCert: pki.kubeletClient, logger: log.child('node-proxy') });
    front = new HttpsFront({
      host: cfg.host,
      port: cfg.port,
      extraHosts: cfg.extraHosts,
      certPem: pki.server.certPem,
      keyPem: pki.server.keyPem,
      caPem: pki.ca.certPem,
      authenticators,
      handler: audit ? audit.wrap(api.handle) : api.handle,
      logger: log,
      streams: new StreamingRouter([nodeProxy, new VirtNodeProxy({ api, nodes: nodeProxy, logger: log.child('virt-node-proxy') })]),
    });
    const addr = await front.listen();
    const clientHost = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host;
    const url = `https://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${addr.port}`;
    const kubeconfigPath = join(cfg.dataDir, 'admin.kubeconfig');
    await writeKubeconfig(kubeconfigPath, { server: url, caPem: pki.ca.certPem, clientCertPem: pki.admin.certPem, clientKeyPem: pki.admin.keyPem });
    await bootstrapNamespaces(api);
    await api.namespaces.start();
    const advertiseIP = (cfg.advertise ?? []).find((a) => isIP(a) === 4) ?? (isIP(clientHost) === 4 ? clientHost : '127.0.0.1');
    await bootstrapKubernetesService(api, { ip: advertiseIP, port: addr.port }, KUBERNETES_SERVICE_IP);
    await bootstrapCrds(api);
    crds = new CrdServing(api, log.child('crd'));
    await crds.start();
    const ctrlLog = log.child('controllers');
    // One server on SQLite needs no election; servers sharing etcd elect one controller manager.
    if (cfg.controllers !== false) {
      controllers = startControllerManager(new Client(new InProcessTransport(api.handle, SYSTEM_USER)), ctrlLog.clientLogger, {
        leaderElect: cfg.store === 'etcd',
        ...cfg.controllerOptions,
        settings: { rootCaPem: pki.ca.certPem, ...cfg.controllerOptions?.settings, ...(cfg.lbPool ? { lbPool: cfg.lbPool } : {}) },
      });
      const manager = controllers;
      api.metrics.addSource(() => renderControllerMetrics(manager.running()));
    }
    compactor = startCompactor(store, {
      intervalMs: cfg.compactionIntervalMs,
      onError: (e) => log.warn('compaction failed', { error: String(e) }),
    });
    if (cfg.simulatedNodes !== undefined) {
      const simLog = log.child('sim');
      simulator = new Simulator(new Client(new InProcessTransport(api.handle, SYSTEM_USER)), {
        ...cfg.simulator,
        logger: simLog.clientLogger,
      });
      await simulator.start();
      await simulator.adoptExisting();
      const missing = cfg.simulatedNodes - simulator.nodeNames().length;
      if (missing > 0) await simulator.addNodes(missing, cfg.simulator);
    }
    log.info('serving', { url, store: cfg.store, dataDir: cfg.dataDir });
    const running: RunningServer = {
      url,
      host: clientHost,
      port: addr.port,
      kubeconfigPath,
      pki,
      api,
      store,
      handler: api.handle,
      simulator,
      stop: async () => {
        api.markShuttingDown();
        await simulator?.stop();
        await front?.close();
        await controllers?.stop();
        await rbac?.stop();
        await audit?.close();
        api.namespaces.stop();
        crds?.stop();
        await compactor?.stop();
        await store.close();
        log.info('stopped');
      },
    };
    return running;
  } catch (e) {
    await simulator?.stop().catch(() => {});
    await front?.close().catch(() => {});
    await controllers?.stop().catch(() => {});
    await rbac?.stop().catch(() => {});
    await audit?.close().catch(() => {});
    crds?.stop();
    await compactor?.stop().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}
