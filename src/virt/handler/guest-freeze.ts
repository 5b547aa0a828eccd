/**
 * Freezing a guest's filesystems for a snapshot, as virt-launcher's StorageManager does
 * (pkg/virt-launcher/virtwrap/storage/fsfreeze.go): through the guest agent behind the VM's
 * org.qemu.guest_agent.0 socket, idempotent both ways (a frozen guest is not frozen again, a
 * thawed one not thawed: the guest's freeze hooks must not run twice), and with a safety thaw
 * after the caller's unfreeze timeout, so a snapshot controller that dies between freeze and
 * unfreeze cannot leave the guest frozen for good.
 *
 * Each call opens its own agent session: the VirtHandler's agent poller connects and closes every
 * few seconds, and QEMU's chardev accepts the next client once the previous one left.
 */
import { GuestAgentClient, GuestAgentTimeoutError } from '../qemu/guest-agent-client.js';
import { VirtNodeError } from './virt-node-control.js';

/**
 * Each sync waits this long, and is tried this many times: a guest agent that saw the previous
 * session end reopens its port after a pause, and what the host writes meanwhile is lost — the
 * next sync gets through. Within the API server's 10 s wait for a node's answer.
 */
const SYNC_TIMEOUT_MS = 2_500;
const SYNC_ATTEMPTS = 3;

export type FreezeStatus = 'frozen' | 'thawed';

async function connect(socket: string): Promise<GuestAgentClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await GuestAgentClient.connect(socket, { timeoutMs: SYNC_TIMEOUT_MS });
    } catch (e) {
      if (!(e instanceof GuestAgentTimeoutError) || attempt >= SYNC_ATTEMPTS) throw e;
    }
  }
}

async function withAgent<T>(socket: string, fn: (ga: GuestAgentClient) => Promise<T>): Promise<T> {
  let ga: GuestAgentClient | undefined;
  try {
    ga = await connect(socket);
    return await fn(ga);
  } catch (e) {
    // virt-handler answers a failed freeze or thaw with 400 and the launcher's error.
    throw new VirtNodeError(400, (e as Error).message);
  } finally {
    ga?.close();
  }
}

/** The guest's freeze state (guest-fsfreeze-status). */
export function guestFreezeStatus(socket: string): Promise<FreezeStatus> {
  return withAgent(socket, (ga) => ga.fsfreezeStatus());
}

/** The safety thaws pending, by guest agent socket: one per guest. */
export class GuestFreezer {
  private readonly safety = new Map<string, NodeJS.Timeout>();

  /** Freezes the guest unless it is frozen; thaws it by itself after unfreezeTimeoutSeconds (0: never). */
  async freeze(socket: string, unfreezeTimeoutSeconds: number): Promise<void> {
    await withAgent(socket, async (ga) => {
      if ((await ga.fsfreezeStatus()) === 'frozen') return;
      await ga.fsfreezeFreeze();
    });
    this.cancelSafetyThaw(socket);
    if (unfreezeTimeoutSeconds > 0) {
      const t = setTimeout(() => {
        this.safety.delete(socket);
        void this.unfreeze(socket).catch(() => undefined);
      }, unfreezeTimeoutSeconds * 1000);
      t.unref();
      this.safety.set(socket, t);
    }
  }

  /** Thaws the guest unless it is thawed (an unreadable status still tries the thaw). */
  async unfreeze(socket: string): Promise<void> {
    this.cancelSafetyThaw(socket);
    await withAgent(socket, async (ga) => {
      const status = await ga.fsfreezeStatus().catch(() => undefined);
      if (status === 'thawed') return;
      await ga.fsfreezeThaw();
    });
  }

  /** Drops every pending safety thaw (the handler is stopping; the guests stay as they are). */
  stop(): void {
    for (const t of this.safety.values()) clearTimeout(t);
    this.safety.clear();
  }

  private cancelSafetyThaw(socket: string): void {
    clearTimeout(this.safety.get(socket));
    this.safety.delete(socket);
  }
}
