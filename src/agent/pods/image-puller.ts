/**
 * Images for containers, as the kubelet's image manager: the pull policy decides, pulls post
 * `Pulling` / `Pulled` events (with progress in between for large pulls), and a failed pull
 * is `ErrImagePull` once, then `ImagePullBackOff` while a per-image back-off (10 s doubling
 * to 5 min) runs — so a wrong image name never turns into a tight pull loop.
 */
import { defaultPullPolicy, type ImageRecord, type ImageStore, type PullPolicy, type PullProgress } from '../images/store.js';
import { ImageError, ImageNeverPullError } from '../images/errors.js';
import type { Container, Pod, PodObjectSource } from './api-types.js';

export type EventSink = (pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string) => void;

export class ImagePullError extends Error {
  constructor(
    readonly reason: 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName',
    message: string,
    /** ms until the next attempt is allowed. */
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'ImagePullError';
  }
}

interface BackoffEntry {
  delayMs: number;
  until: number;
  message: string;
}

const INITIAL_MS = 10_000;
const MAX_MS = 300_000;
const PROGRESS_EVERY_MS = 5_000;
const mib = (n: number) => (n / 1048576).toFixed(1);

export class ImagePuller {
  private readonly backoff = new Map<string, BackoffEntry>();
  private readonly inflight = new Map<string, Promise<ImageRecord>>();

  constructor(
    private readonly store: ImageStore,
    private readonly objects: PodObjectSource,
    private readonly event: EventSink,
    private readonly now: () => number = Date.now,
  ) {}

  /** The image for a container per its pull policy; throws ImagePullError. */
  async ensure(pod: Pod, c: Container): Promise<ImageRecord> {
    const ref = c.image ?? '';
    if (!ref.trim()) throw new ImagePullError('InvalidImageName', `Failed to apply default image tag "${ref}": couldn't parse image name "${ref}": invalid reference format`, MAX_MS);
    const policy: PullPolicy = c.imagePullPolicy ?? defaultPullPolicy(ref);
    const key = `${pod.metadata.uid}/${ref}`;
    const present = await this.store.get(ref);
    if (present && policy !== 'Always') {
      // The kubelet reports an image already present once per container start.
      this.event(pod, 'Normal', 'Pulled', `Container image "${ref}" already present on machine`);
      return present;
    }
    if (policy === 'Never') {
      const msg = `Container image "${ref}" is not present with pull policy of Never`;
      this.event(pod, 'Warning', 'ErrImageNeverPull', msg);
      throw new ImagePullError('ErrImageNeverPull', msg, INITIAL_MS);
    }
    const b = this.backoff.get(key);
    if (b && this.now() < b.until) {
      this.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${ref}"`);
      // As the kubelet's startContainer records every EnsureImageExists failure.
      this.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      throw new ImagePullError('ImagePullBackOff', `Back-off pulling image "${ref}": ${b.message}`, b.until - this.now());
    }
    this.event(pod, 'Normal', 'Pulling', `Pulling image "${ref}"`);
    const started = this.now();
    try {
      const rec = await this.pullOnce(ref, pod);
      this.backoff.delete(key);
      const secs = ((this.now() - started) / 1000).toFixed(3);
      this.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${ref}" in ${secs}s. Image size: ${rec.size} bytes.`);
      return rec;
    } catch (e) {
      if (e instanceof ImageNeverPullError) throw e;
      const message = e instanceof ImageError ? e.message : String((e as Error)?.message ?? e);
      const delayMs = b ? Math.min(b.delayMs * 2, MAX_MS) : INITIAL_MS;
      this.backoff.set(key, { delayMs, until: this.now() + delayMs, message });
      const msg = `Failed to pull image "${ref}": ${message}`;
      this.event(pod, 'Warning', 'Failed', msg);
      this.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      throw new ImagePullError('ErrImagePull', msg, delayMs);
    }
  }

  /** Forgets a pod's back-off entries (the pod is gone). */
  forgetPod(uid: string): void {
    for (const k of this.backoff.keys()) if (k.startsWith(`${uid}/`)) this.backoff.delete(k);
  }

  private pullOnce(ref: string, pod: Pod): Promise<ImageRecord> {
    // Pods pulling the same image at once share one pull (the store also dedupes blobs).
    let p = this.inflight.get(ref);
    if (!p) {
      let last = this.now();
      const onProgress = (pr: PullProgress) => {
        // Progress of long pulls, at most every 5 s (kubectl describe shows how far it got).
        if (this.now() - last < PROGRESS_EVERY_MS || !pr.overallTotal) return;
        last = this.now();
        this.event(pod, 'Normal', 'Pulling', `Pulling image "${ref}": ${mib(pr.overallDownloaded)} of ${mib(pr.overallTotal)} MiB`);
      };
      p = this.store.pull(ref, { pullSecrets: this.pullSecrets(pod), onProgress }).finally(() => this.inflight.delete(ref));
      this.inflight.set(ref, p);
    }
    return p;
  }

  private pullSecrets(pod: Pod): string[] {
    const out: string[] = [];
    for (const ref of pod.spec.imagePullSecrets ?? []) {
      const s = this.objects.secret(pod.metadata.namespace ?? '', ref.name);
      const data = s?.data?.['.dockerconfigjson'] ?? s?.data?.['.dockercfg'];
      if (data) out.push(Buffer.from(data, 'base64').toString('utf8'));
    }
    return out;
  }
}
