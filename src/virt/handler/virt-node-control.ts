/**
 * What the node's VirtHandler offers the agent's streaming server for the VMI subresources that
 * reach a running guest (console, vnc, pause, unpause, freeze, unfreeze), as KubeVirt's virt-handler serves them to
 * virt-api. The agent server depends on this interface only.
 */

/** Host paths of a running launcher's sockets (inside the pod's `private` emptyDir). */
export interface LauncherSockets {
  /** The serial console (QEMU chardev socket server; one client at a time). */
  serial: string;
  /** Everything the guest wrote to its serial console since QEMU started. */
  serialLog: string;
  /** QEMU's VNC server. */
  vnc: string;
}

/** A request the VMI's state does not allow; `code` is the HTTP status the API returns. */
export class VirtNodeError extends Error {
  override name = 'VirtNodeError';
  constructor(
    readonly code: 400 | 404 | 409 | 500,
    message: string,
  ) {
    super(message);
  }
}

export interface VirtNodeControl {
  /** The sockets of the VMI's launcher on this node; throws VirtNodeError(404/409) when it has none running. */
  sockets(namespace: string, vmiName: string): LauncherSockets;
  /** QMP stop; KubeVirt's messages when it is not running or already paused. */
  pause(namespace: string, vmiName: string): Promise<void>;
  /** QMP cont. */
  unpause(namespace: string, vmiName: string): Promise<void>;
  /**
   * guest-fsfreeze-freeze through the guest agent (idempotent when already frozen); the guest is
   * thawed by itself after unfreezeTimeoutSeconds (0: never) if no unfreeze comes. The agent's
   * refusal is VirtNodeError(400), as virt-handler answers a failed freeze.
   */
  freeze(namespace: string, vmiName: string, unfreezeTimeoutSeconds: number): Promise<void>;
  /** guest-fsfreeze-thaw (nothing to do when thawed); cancels the pending safety thaw. */
  unfreeze(namespace: string, vmiName: string): Promise<void>;
}
