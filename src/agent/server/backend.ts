/**
 * What the agent's streaming server needs to know about pods, implemented by the pod manager:
 * the pods bound to this node, a container's logs and running instance, and a way into a pod's
 * network. The server itself holds no pod state.
 */
import type { Duplex } from 'node:stream';
import type { Pod } from '../pods/api-types.js';

/** One container of a pod, as the streaming server sees it. */
export interface ContainerHandle {
  name: string;
  /**
   * The CRI log file `kubectl logs` reads: the running instance's, or while the container waits
   * to restart (CrashLoopBackOff) the last instance's — the kubelet shows the last run then.
   * Undefined when no instance has started.
   */
  currentLog?: string;
  /** The instance before the current one (`kubectl logs --previous`); undefined when there was none. */
  previousLog?: string;
  /** Set while an instance runs: its container id in the runtime (exec, attach, following logs). */
  running?: { id: string };
  /** The container's spec: whether it keeps stdin open, and runs on a terminal. */
  stdin: boolean;
  tty: boolean;
}

export interface StreamingBackend {
  /** A pod bound to this node, or undefined. */
  pod(namespace: string, name: string): Pod | undefined;
  /**
   * The container `name` of `pod` (any kind: init, regular); without a name the default one —
   * annotation kubectl.kubernetes.io/default-container, else the first container. An unknown
   * name is `{error}` worded as upstream: `container x is not valid for pod y`.
   */
  container(pod: Pod, name: string | undefined): ContainerHandle | { error: string };
  /** A TCP connection to `port` on the pod's IP, from inside the node's network (port-forward). */
  dialPod(pod: Pod, port: number): Promise<Duplex>;
}
