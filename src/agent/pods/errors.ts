/**
 * Errors of the node agent's pod logic that end up in a container's `waiting` state, as the
 * kubelet reports them: `reason` is the waiting reason (`CreateContainerConfigError` when the
 * container's configuration cannot be resolved — a missing ConfigMap, a runAsNonRoot violation —
 * or `CreateContainerError` when the runtime could not build it), `message` the text users see in
 * `kubectl describe pod`.
 */
export type ContainerConfigErrorReason = 'CreateContainerConfigError' | 'CreateContainerError';

export class ContainerConfigError extends Error {
  constructor(
    message: string,
    readonly reason: ContainerConfigErrorReason = 'CreateContainerConfigError',
  ) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}
