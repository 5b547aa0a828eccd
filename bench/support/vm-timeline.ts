/**
 * Watches of the VMIs and pods of one namespace in the benchmark process, recording per VM
 * (VMI name = VM name; a launcher pod names its VM in `vm.kubevirt.io/name`) the first moment
 * (performance.now()) each start step was seen: VMI created, launcher pod scheduled, pod Running,
 * VMI Running (the VirtHandler started QEMU). Watches that end are re-opened; a re-list replays
 * existing objects as ADDED, which only ever confirms first-seen times already kept.
 */
import type { Client, ResourceRef } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { LABEL_VM_NAME } from '../../src/virt/launcher/layout.js';

const VMIS: ResourceRef = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespaced: true, kind: 'VirtualMachineInstance' };
const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };

export interface VmTimes {
  vmiCreated?: number;
  podScheduled?: number;
  podRunning?: number;
  vmiRunning?: number;
  /** The launcher pod's PodScheduled=False message (the scheduler refused it). */
  unschedulable?: string;
}

interface PodLike {
  spec?: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export class VmTimeline {
  readonly vms = new Map<string, VmTimes>();
  readonly errors: string[] = [];
  private readonly ac = new AbortController();
  private readonly loops: Promise<void>[];

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {
    this.loops = [this.follow(VMIS, (o) => this.vmi(o)), this.follow(PODS, (o) => this.pod(o))];
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await Promise.all(this.loops);
  }

  private entry(name: string): VmTimes {
    let e = this.vms.get(name);
    if (!e) this.vms.set(name, (e = {}));
    return e;
  }

  private vmi(o: KubeObject): void {
    const e = this.entry(o.metadata.name!);
    const now = performance.now();
    e.vmiCreated ??= now;
    if ((o.status as { phase?: string } | undefined)?.phase === 'Running') e.vmiRunning ??= now;
  }

  private pod(o: KubeObject): void {
    const vm = o.metadata.labels?.[LABEL_VM_NAME];
    if (!vm) return;
    const p = o as unknown as PodLike;
    const e = this.entry(vm);
    const now = performance.now();
    if (p.spec?.nodeName) e.podScheduled ??= now;
    if (p.status?.phase === 'Running') e.podRunning ??= now;
    const refused = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
    if (refused && !p.spec?.nodeName) e.unschedulable = refused.message ?? 'Unschedulable';
  }

  private async follow(ref: ResourceRef, seen: (o: KubeObject) => void): Promise<void> {
    while (!this.ac.signal.aborted) {
      try {
        for await (const ev of this.client.resource(ref).watch({ namespace: this.namespace, signal: this.ac.signal, timeoutSeconds: 300 })) {
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') seen(ev.object as KubeObject);
        }
      } catch (e) {
        if (this.ac.signal.aborted) return;
        if (this.errors.length < 10) this.errors.push(`watch ${ref.plural}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}
