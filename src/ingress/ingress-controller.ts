/**
 * The node's Ingress controller (ingress-nginx's approach, one per node): watches Ingresses,
 * IngressClasses, Services, EndpointSlices, Secrets and Nodes; renders nginx.conf from them;
 * and keeps one nginx master running in the node's network namespace on :80 and :443 with that
 * configuration — started if it is not running, adopted by its pid file after an agent restart,
 * reloaded (graceful SIGHUP) only when the rendered text changed and `nginx -t` accepted it.
 *
 * Level-triggered: every change schedules one sync of everything. A configuration nginx rejects
 * is blamed on the Ingress its failing line came from; that Ingress is left out (with a Warning
 * event) and the rest keeps being served. The lowest-named Ready node writes status and events.
 * stop() leaves nginx running, as the agent leaves containers: the next agent adopts it.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { NodeAddon, NodeAddonContext } from '../agent/node-addon.js';
import { errorText } from '../client/log.js';
import { finalStateOf, type Informer, type ReconcileResult, type RunningController, runController, WorkQueue } from '../client/index.js';
import { EventRecorder } from '../controllers/events.js';
import { NODES } from '../controllers/util/nodes.js';
import { ENDPOINT_SLICES, LABEL_SERVICE_NAME, SERVICES } from '../controllers/util/service-endpoints.js';
import { deepEqual, type KubeObject } from '../util/object.js';
import { CertificateStore } from './certificates.js';
import { type EndpointSlice, INGRESS_CLASSES, INGRESSES, type Ingress, type IngressClass, keyOf, SECRETS, type Secret } from './ingress-api.js';
import { INGRESS_CLASS_NAME, servesIngress } from './ingress-class.js';
import { buildIngressModel, type IngressModel, type IngressWarning } from './ingress-model.js';
import { readyNodeAddresses, speakerNode, updateLoadBalancerStatus } from './lb-status.js';
import { Nginx, NginxConfigError, workerAccount } from './nginx.js';
import { renderNginxConf } from './nginx-conf.js';
import { ingressPaths, type IngressPaths, makeIngressDirs } from './paths.js';

const KEY = 'nginx';
/** Changes arriving together (a Deployment scaling, a manifest applied) make one reload. */
const COALESCE_MS = 100;
/** How often the master's liveness and the status are re-checked without any change. */
const RESYNC_MS = 30_000;
const SLICE_INDEX = 'ingress-controller:service';

export class IngressController implements NodeAddon {
  private readonly ingresses: Informer<Ingress>;
  private readonly classes: Informer<IngressClass>;
  private readonly services: Informer<KubeObject>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly secrets: Informer<Secret>;
  private readonly nodes: Informer<KubeObject>;
  private readonly paths: IngressPaths;
  private readonly nginx: Nginx;
  private readonly certs: CertificateStore;
  private readonly recorder: EventRecorder;
  private queue?: WorkQueue<string>;
  private controller?: RunningController;
  private worker?: { user: string; group: string };
  /** What the last sync read; undefined until then (any change matters). */
  private referenced?: { services: Set<string>; secrets: Set<string> };
  private nodesSeen = '';
  /** Warnings already recorded as events while this node was the speaker. */
  private reported = new Set<string>();

  constructor(readonly ctx: NodeAddonContext) {
    const inf = ctx.informers;
    this.ingresses = inf.forResource<Ingress>(INGRESSES);
    this.classes = inf.forResource<IngressClass>(INGRESS_CLASSES);
    this.services = inf.forResource(SERVICES);
    this.slices = inf.forResource<EndpointSlice>(ENDPOINT_SLICES);
    this.secrets = inf.forResource<Secret>(SECRETS);
    this.nodes = inf.forResource(NODES);
    if (!this.slices.hasIndexer(SLICE_INDEX)) {
      this.slices.addIndexers({ [SLICE_INDEX]: (s) => (s.metadata.labels?.[LABEL_SERVICE_NAME] ? [keyOf(s.metadata.namespace, s.metadata.labels[LABEL_SERVICE_NAME])] : []) });
    }
    this.paths = ingressPaths(ctx.dataDir);
    this.nginx = new Nginx({ conf: this.paths.conf, pidFile: this.paths.pidFile, prefix: `${this.paths.dir}/`, netns: ctx.nodeNetns });
    this.certs = new CertificateStore(this.paths.ssl, (ns, name) => this.secrets.store.getByName(name, ns));
    this.recorder = new EventRecorder(ctx.client, 'cairn-ingress-nginx', ctx.logger, ctx.nodeName);

    const always = () => this.schedule();
    this.ingresses.addEventHandler({
      onAdd: always,
      // Our own status writes come back as updates: only spec and annotations change routing.
      onUpdate: (a, b) => {
        if (!deepEqual(a.spec, b.spec) || !deepEqual(a.metadata.annotations, b.metadata.annotations)) this.schedule();
      },
      onDelete: always,
    });
    this.classes.addEventHandler({ onAdd: always, onUpdate: always, onDelete: always });
    const named = (kind: 'services' | 'secrets') => (o: KubeObject) => {
      if (!this.referenced || this.referenced[kind].has(keyOf(o.metadata.namespace, o.metadata.name))) this.schedule();
    };
    this.services.addEventHandler(handlers(named('services')));
    this.secrets.addEventHandler(handlers(named('secrets')));
    this.slices.addEventHandler(
      handlers((s) => {
        const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
        if (!this.referenced || (svc && this.referenced.services.has(keyOf(s.metadata.namespace, svc)))) this.schedule();
      }),
    );
    // Node heartbeats update Nodes all the time; only readiness and addresses matter here.
    this.nodes.addEventHandler(
      handlers(() => {
        const seen = this.nodesView();
        if (seen !== this.nodesSeen) this.schedule();
      }),
    );
  }

  async start(): Promise<void> {
    this.queue = new WorkQueue<string>({ name: 'ingress-nginx' });
    this.controller = runController({
      name: 'ingress-nginx',
      queue: this.queue,
      reconcile: () => this.sync(),
      informers: [this.ingresses, this.classes, this.services, this.slices, this.secrets, this.nodes],
      logger: this.ctx.logger,
    });
    this.queue.add(KEY);
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
    await this.recorder.flush();
  }

  private schedule(): void {
    this.queue?.addAfter(KEY, COALESCE_MS);
  }

  private nodesView(): string {
    const nodes = this.nodes.store.list();
    return `${speakerNode(nodes) ?? ''} ${readyNodeAddresses(nodes).join(',')}`;
  }

  private async sync(): Promise<ReconcileResult> {
    if (!this.worker) {
      await makeIngressDirs(this.paths);
      await this.certs.init();
      this.worker = await workerAccount();
    }
    this.nodesSeen = this.nodesView();
    const ourClass = this.classes.store.getByName(INGRESS_CLASS_NAME);
    const ours = this.ingresses.store.list().filter((i) => servesIngress(i, ourClass));
    const { model, rejected } = await this.applyConfiguration(ours);
    this.referenced = { services: model.services, secrets: model.secrets };

    const nodes = this.nodes.store.list();
    if (speakerNode(nodes) === this.ctx.nodeName) {
      const rejections: IngressWarning[] = rejected.map(([ing, why]) => ({ ingress: ing, reason: 'InvalidConfiguration', message: `nginx rejected the configuration made from this Ingress (${why}): it is not served` }));
      this.report([...model.warnings, ...rejections]);
      const ips = readyNodeAddresses(nodes);
      for (const ing of ours) {
        await updateLoadBalancerStatus(this.ctx.client, ing, ips).catch((e: unknown) =>
          this.ctx.logger({ level: 'warn', msg: 'could not update the Ingress status', ingress: keyOf(ing.metadata.namespace, ing.metadata.name), error: errorText(e) }),
        );
      }
    } else {
      this.reported = new Set();
    }
    return { requeueAfterMs: RESYNC_MS };
  }

  /**
   * Renders, checks and applies the configuration; an Ingress whose lines nginx rejects is left
   * out and the rest applied. Returns the model applied and the Ingresses left out (and why).
   */
  private async applyConfiguration(ours: Ingress[]): Promise<{ model: IngressModel; rejected: [Ingress, string][] }> {
    const rejected = new Map<string, [Ingress, string]>();
    const source = {
      service: (ns: string, name: string) => this.services.store.getByName(name, ns),
      endpointSlices: (ns: string, svc: string) => this.slices.store.byIndex(SLICE_INDEX, keyOf(ns, svc)),
      certificate: (ns: string, name: string) => this.certs.lookup(ns, name),
    };
    for (;;) {
      const model = buildIngressModel(
        ours.filter((i) => !rejected.has(keyOf(i.metadata.namespace, i.metadata.name))),
        source,
      );
      await this.certs.write(new Set(model.servers.flatMap((s) => (s.tls?.certFile ? [s.tls.certFile] : []))));
      const conf = renderNginxConf(model, { paths: this.paths, defaultCertFile: this.certs.defaultFile, worker: this.worker!, nodeName: this.ctx.nodeName });
      try {
        await this.apply(conf.text);
        return { model, rejected: [...rejected.values()] };
      } catch (e) {
        const owner = e instanceof NginxConfigError && e.line !== undefined ? conf.ownerOf(e.line) : undefined;
        const ing = owner && !rejected.has(owner) ? ours.find((i) => keyOf(i.metadata.namespace, i.metadata.name) === owner) : undefined;
        if (!ing) throw e;
        this.ctx.logger({ level: 'warn', msg: 'nginx rejected the configuration of an Ingress; serving the others', ingress: owner, error: (e as NginxConfigError).detail });
        rejected.set(owner!, [ing, (e as NginxConfigError).detail]);
      }
    }
  }

  /** Makes the running master run `text`: written, tested, swapped in, then reload — or start. */
  private async apply(text: string): Promise<void> {
    const current = await readFile(this.paths.conf, 'utf8').catch(() => undefined);
    const pid = await this.nginx.pid();
    if (current === text && pid) return;
    if (current !== text) {
      await writeFile(this.paths.nextConf, text, { mode: 0o644 });
      await this.nginx.test(this.paths.nextConf);
      await rename(this.paths.nextConf, this.paths.conf);
    }
    if (pid) {
      this.nginx.reload(pid);
      this.ctx.logger({ level: 'info', msg: 'nginx reloaded', pid });
    } else {
      const started = await this.nginx.start();
      this.ctx.logger({ level: 'info', msg: 'nginx started', pid: started, conf: this.paths.conf });
    }
  }

  /** Records each warning once (per speakership): a standing problem is not repeated every sync. */
  private report(warnings: IngressWarning[]): void {
    const now = new Set<string>();
    for (const w of warnings) {
      const k = `${w.ingress.metadata.uid}\0${w.reason}\0${w.message}`;
      now.add(k);
      if (!this.reported.has(k)) this.recorder.event(w.ingress, 'Warning', w.reason, w.message);
    }
    this.reported = now;
  }
}

function handlers<T extends KubeObject>(fn: (o: T) => void) {
  return {
    onAdd: (o: T) => fn(o),
    onUpdate: (_: T, o: T) => fn(o),
    onDelete: (o: unknown) => fn(finalStateOf(o as T)),
  };
}
