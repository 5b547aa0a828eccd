/**
 * Extended resources backed by host devices, as the kubelet's device plugins: a node part
 * registers a resource (`devices.kubevirt.io/tun` → /dev/net/tun), the node advertises it in
 * capacity and allocatable, the scheduler counts it, and a container that asks for it in its
 * limits (or requests) gets the device node and device-cgroup access. Nothing else does.
 */
import type { Container } from './api-types.js';
import type { ContainerDevice } from '../runtime/oci-spec.js';

export interface DevicePlugin {
  /** The extended resource name, e.g. `devices.kubevirt.io/kvm`. */
  resource: string;
  /** What the node advertises (a quantity, e.g. `1k`). */
  count: string;
  devices: ContainerDevice[];
}

export class DevicePlugins {
  private readonly plugins = new Map<string, DevicePlugin>();
  private readonly listeners = new Set<() => void>();

  /** Adds (or replaces) a resource; the node status picks it up at once. */
  register(p: DevicePlugin): void {
    this.plugins.set(p.resource, p);
    for (const l of this.listeners) l();
  }

  /** Called whenever the advertised set changes. */
  onChange(l: () => void): void {
    this.listeners.add(l);
  }

  /** The advertised resources, for the node's capacity and allocatable. */
  resources(): Record<string, string> {
    return Object.fromEntries([...this.plugins.values()].map((p) => [p.resource, p.count]));
  }

  /** The devices a container gets for the registered resources it asks for. */
  devicesFor(c: Container): ContainerDevice[] {
    const asked = new Set([...Object.keys(c.resources?.limits ?? {}), ...Object.keys(c.resources?.requests ?? {})]);
    return [...this.plugins.values()].filter((p) => asked.has(p.resource)).flatMap((p) => p.devices);
  }
}
