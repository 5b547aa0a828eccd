/**
 * The kubelet's prober workers (pkg/kubelet/prober: worker.go, prober.go, prober_manager.go):
 * one timer-driven worker per probe of a running container instance, its results folded into
 * what the pod status needs — ready, started, and whether the instance must be killed.
 *
 * Semantics kept from upstream:
 * - defaults: periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3,
 *   initialDelaySeconds 0 (counted from the container's start);
 * - initial values: not ready when there is a readiness probe (ready when there is none); not
 *   started until the startup probe succeeds (started at once when there is none); never ready
 *   before started;
 * - the startup probe gates the others: liveness and readiness do not run before `started`, the
 *   startup probe stops once it succeeded (and readiness is run right away, as the kubelet's
 *   status sync triggers it);
 * - a result only changes after successThreshold / failureThreshold equal results in a row;
 *   `warning` counts as success; a probe that could not run (`unknown`) is retried up to three
 *   times at once, reported, and not counted;
 * - liveness or startup failing past the threshold marks the instance (`livenessFailed`, with
 *   the message of the kubelet's Killing event) and stops its liveness and startup probing until
 *   a new instance starts; readiness goes on probing while the instance is being killed;
 * - events: Warning `Unhealthy` (`Liveness probe failed: …`, `Readiness probe failed: …`,
 *   `Startup probe failed: …`, `… probe errored and resulted in unknown state: …`) for every
 *   failed run, Warning `ProbeWarning` (`… probe warning: …`) for warnings.
 * Timing: the first run is right after initialDelaySeconds; only for an instance that was running
 * before this manager started (the agent restarted) and within the first period of the manager,
 * it is spread by a random jitter within the period, as upstream does so a restarted kubelet does
 * not fire every probe at once. Then one run per period, never two at once.
 */
import type { Logger } from '../../client/index.js';
import type { Container, Probe } from '../pods/api-types.js';
import { runProbe, type ProbeOutcome, type ProbeTarget } from './probe.js';

type ProbeKind = 'startup' | 'liveness' | 'readiness';
const KIND_TEXT: Record<ProbeKind, string> = { startup: 'Startup', liveness: 'Liveness', readiness: 'Readiness' };
/** prober.go maxProbeRetries: attempts of a probe that could not run, per period. */
const MAX_ATTEMPTS = 3;

/** Time source; tests inject a fake one. */
export interface ProbeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ProbeClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ProbeManagerOptions {
  /** Called when a container's ready / started / livenessFailed changes (not on every probe). */
  onChange: (podUid: string) => void;
  event: (podUid: string, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  logger?: Logger;
  clock?: ProbeClock;
  /** [0, 1): the jitter of the first run after an agent restart. */
  random?: () => number;
}

export interface ContainerProbeState {
  ready: boolean;
  started: boolean;
  /** Set once liveness or startup failed past its threshold: the instance is to be killed. */
  livenessFailed?: { message: string };
}

export interface StartContainerOptions {
  /** Whether the pod will restart the container after a kill (restartPolicy, sidecar); shapes the message. Default true. */
  willRestart?: boolean;
}

interface Timing {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

interface Worker {
  kind: ProbeKind;
  probe: Probe;
  timing: Timing;
  timer?: unknown;
  /** When the current or next run was scheduled (the ticker's phase). */
  dueAt: number;
  busy: boolean;
  /** Run again as soon as the current run ends. */
  rerun: boolean;
  stopped: boolean;
  lastResult?: 'success' | 'failure';
  /** How many times in a row lastResult came. */
  resultRun: number;
}

interface Instance {
  podUid: string;
  name: string;
  containerId: string;
  startedAt: number;
  target: ProbeTarget;
  willRestart: boolean;
  /** Probe results; `ready` here is readiness alone (view() combines it with started). */
  state: ContainerProbeState;
  workers: Map<ProbeKind, Worker>;
}

export class ProbeManager {
  private readonly instances = new Map<string, Instance>();
  private readonly clock: ProbeClock;
  private readonly random: () => number;
  private readonly managerStart: number;

  constructor(private readonly opts: ProbeManagerOptions) {
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.managerStart = this.clock.now();
  }

  /** Start probing a container instance once it runs; replaces any workers of an older instance of the same container. */
  startContainer(
    podUid: string,
    containerName: string,
    containerId: string,
    startedAt: Date,
    probes: Pick<Container, 'livenessProbe' | 'readinessProbe' | 'startupProbe'>,
    target: ProbeTarget,
    opts: StartContainerOptions = {},
  ): void {
    const key = keyOf(podUid, containerName);
    const old = this.instances.get(key);
    if (old?.containerId === containerId) return;
    if (old) this.stopWorkers(old);
    const inst: Instance = {
      podUid,
      name: containerName,
      containerId,
      startedAt: startedAt.getTime(),
      target,
      willRestart: opts.willRestart ?? true,
      state: { ready: !probes.readinessProbe, started: !probes.startupProbe },
      workers: new Map(),
    };
    this.instances.set(key, inst);
    const specs: [ProbeKind, Probe | undefined][] = [
      ['startup', probes.startupProbe],
      ['liveness', probes.livenessProbe],
      ['readiness', probes.readinessProbe],
    ];
    for (const [kind, probe] of specs) {
      if (!probe) continue;
      const timing = timingOf(probe);
      const w: Worker = { kind, probe, timing, dueAt: 0, busy: false, rerun: false, stopped: false, resultRun: 0 };
      inst.workers.set(kind, w);
      const now = this.clock.now();
      let first = Math.max(now, inst.startedAt + timing.initialDelayMs);
      const readopted = inst.startedAt < this.managerStart && now - this.managerStart < timing.periodMs;
      if (readopted) first = Math.max(first, now + this.random() * timing.periodMs);
      this.schedule(inst, w, first);
    }
    if (old && !sameState(view(old.state), view(inst.state))) this.changed(podUid);
  }

  stopContainer(podUid: string, containerName: string): void {
    const key = keyOf(podUid, containerName);
    const inst = this.instances.get(key);
    if (!inst) return;
    this.stopWorkers(inst);
    this.instances.delete(key);
  }

  removePod(podUid: string): void {
    for (const [key, inst] of this.instances) {
      if (inst.podUid !== podUid) continue;
      this.stopWorkers(inst);
      this.instances.delete(key);
    }
  }

  state(podUid: string, containerName: string): ContainerProbeState {
    const s = this.instances.get(keyOf(podUid, containerName))?.state;
    return s ? view(s) : { ready: false, started: false };
  }

  // ---- workers ----

  private schedule(inst: Instance, w: Worker, at: number): void {
    if (w.stopped) return;
    if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    w.dueAt = at;
    w.timer = this.clock.setTimeout(() => void this.tick(inst, w), Math.max(0, at - this.clock.now()));
  }

  /** Runs the worker now (or right after its current run), restarting its period from here. */
  private trigger(inst: Instance, w: Worker): void {
    if (w.busy) w.rerun = true;
    else this.schedule(inst, w, this.clock.now());
  }

  private async tick(inst: Instance, w: Worker): Promise<void> {
    w.timer = undefined;
    if (w.stopped) return;
    const now = this.clock.now();
    const delayEnd = inst.startedAt + w.timing.initialDelayMs;
    if (now < delayEnd) return this.schedule(inst, w, delayEnd);
    // Startup runs only until the container has started; the others only after.
    const idle = w.kind === 'startup' ? inst.state.started : !inst.state.started;
    if (!idle) {
      w.busy = true;
      const outcome = await this.probeWithRetries(inst, w);
      w.busy = false;
      if (w.stopped) return; // the instance was replaced or stopped meanwhile
      this.record(inst, w, outcome);
      if (w.stopped) return;
    }
    if (w.rerun) {
      w.rerun = false;
      return this.schedule(inst, w, this.clock.now());
    }
    // A ticker's phase: the next period from when this run was due, at once if that has passed.
    this.schedule(inst, w, Math.max(w.dueAt + w.timing.periodMs, this.clock.now()));
  }

  private async probeWithRetries(inst: Instance, w: Worker): Promise<ProbeOutcome> {
    let outcome: ProbeOutcome = { result: 'unknown', message: '' };
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      try {
        outcome = await runProbe(w.probe, inst.target, w.timing.timeoutMs);
      } catch (e) {
        this.opts.logger?.({ level: 'error', msg: 'probe threw', pod: inst.podUid, container: inst.name, probe: w.kind, error: (e as Error).message });
        outcome = { result: 'unknown', message: (e as Error).message };
      }
      if (outcome.result !== 'unknown' || w.stopped) break;
    }
    return outcome;
  }

  /** One run's result: events, then the threshold logic of worker.doProbe. */
  private record(inst: Instance, w: Worker, outcome: ProbeOutcome): void {
    const text = KIND_TEXT[w.kind];
    const event = (reason: string, message: string) => this.safely(() => this.opts.event(inst.podUid, 'Warning', reason, message));
    let result: 'success' | 'failure';
    switch (outcome.result) {
      case 'unknown':
        this.opts.logger?.({ level: 'debug', msg: 'probe errored', pod: inst.podUid, container: inst.name, probe: w.kind, error: outcome.message });
        event('Unhealthy', `${text} probe errored and resulted in unknown state: ${outcome.message}`);
        return; // thrown away, as upstream: an error is not a failure
      case 'warning':
        event('ProbeWarning', `${text} probe warning: ${outcome.message}`);
        result = 'success';
        break;
      case 'failure':
        event('Unhealthy', `${text} probe failed: ${outcome.message}`);
        result = 'failure';
        break;
      default:
        result = 'success';
    }
    if (w.lastResult === result) w.resultRun++;
    else {
      w.lastResult = result;
      w.resultRun = 1;
    }
    const threshold = result === 'failure' ? w.timing.failureThreshold : w.timing.successThreshold;
    if (w.resultRun < threshold) return; // below the threshold: the state stays

    const before = view(inst.state);
    const restart = inst.willRestart ? ', will be restarted' : '';
    if (w.kind === 'readiness') {
      inst.state.ready = result === 'success';
    } else if (w.kind === 'liveness') {
      if (result === 'failure') {
        inst.state.livenessFailed = { message: `Container ${inst.name} failed liveness probe${restart}` };
        this.hold(inst);
      }
    } else if (result === 'success') {
      inst.state.started = true;
      this.stopWorker(inst.workers.get('startup'));
      const readiness = inst.workers.get('readiness');
      if (readiness) this.trigger(inst, readiness);
    } else {
      inst.state.livenessFailed = { message: `Container ${inst.name} failed startup probe${restart}` };
      this.hold(inst);
    }
    if (!sameState(before, view(inst.state))) this.changed(inst.podUid);
  }

  private changed(podUid: string): void {
    this.safely(() => this.opts.onChange(podUid));
  }

  /** The caller's callbacks run inside timer callbacks: an exception there must not stop a worker. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.opts.logger?.({ level: 'error', msg: 'probe callback threw', error: (e as Error).message });
    }
  }

  /** The instance is to be killed: no more liveness or startup runs for it (upstream onHold). */
  private hold(inst: Instance): void {
    this.stopWorker(inst.workers.get('liveness'));
    this.stopWorker(inst.workers.get('startup'));
  }

  private stopWorkers(inst: Instance): void {
    for (const w of inst.workers.values()) this.stopWorker(w);
  }

  private stopWorker(w: Worker | undefined): void {
    if (!w) return;
    w.stopped = true;
    if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    w.timer = undefined;
  }
}

function keyOf(podUid: string, containerName: string): string {
  return `${podUid}/${containerName}`;
}

/** The API's defaults for unset (or zero) fields. */
function timingOf(p: Probe): Timing {
  const pos = (v: number | undefined, d: number) => (v && v > 0 ? v : d);
  return {
    initialDelayMs: Math.max(0, p.initialDelaySeconds ?? 0) * 1000,
    periodMs: pos(p.periodSeconds, 10) * 1000,
    timeoutMs: pos(p.timeoutSeconds, 1) * 1000,
    successThreshold: pos(p.successThreshold, 1),
    failureThreshold: pos(p.failureThreshold, 3),
  };
}

/** What the status shows: a container that has not started is not ready (UpdatePodStatus), whatever readiness says. */
function view(s: ContainerProbeState): ContainerProbeState {
  return { ready: s.started && s.ready, started: s.started, ...(s.livenessFailed ? { livenessFailed: { ...s.livenessFailed } } : {}) };
}

function sameState(a: ContainerProbeState, b: ContainerProbeState): boolean {
  return a.ready === b.ready && a.started === b.started && a.livenessFailed?.message === b.livenessFailed?.message;
}
