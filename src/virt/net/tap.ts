// Tap devices for QEMU NICs (`ip tuntap`, through the shared iproute2 wrapper): single-queue,
// created before QEMU starts (QEMU opens it by name with script=no), enslaved to a bridge.
import { Ip, NotFoundError, checkIfName } from '../../net/ip.js';

export interface TapSpec {
  name: string;
  /** Bridge to enslave the tap to. */
  bridge: string;
  mtu?: number;
  /** The uid that may attach to it without CAP_NET_ADMIN (a container's unprivileged QEMU). */
  owner?: number;
}

/** Creates the tap (replacing a leftover of the same name), enslaves it and sets it up. */
export async function ensureTap(ip: Ip, t: TapSpec): Promise<void> {
  await removeTap(ip, t.name);
  const owner = t.owner === undefined ? [] : ['user', String(t.owner)];
  if (t.owner !== undefined && !(Number.isInteger(t.owner) && t.owner >= 0)) throw new Error(`invalid tap owner ${t.owner}`);
  await ip.ip(['tuntap', 'add', 'dev', checkIfName(t.name), 'mode', 'tap', ...owner]);
  await ip.setLink(t.name, { master: t.bridge, mtu: t.mtu, up: true });
}

/** Deletes the tap if present; returns true when it was there. */
export async function removeTap(ip: Ip, name: string): Promise<boolean> {
  if (!(await ip.link(name))) return false;
  try {
    await ip.ip(['tuntap', 'del', 'dev', checkIfName(name), 'mode', 'tap']);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}
