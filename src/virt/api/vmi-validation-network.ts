/**
 * KubeVirt's network admitter (pkg/network/admitter) for a VMI spec at `field` (`spec`, or
 * `spec.template.spec` for a VM): one pod network, one source per network, interfaces and
 * networks paired by name, exactly one binding per interface, masquerade only on the pod network,
 * interface names, models, MAC addresses and forwarded ports — with KubeVirt's messages. Cairn's
 * cluster configuration does not permit bridge binding on the pod network (KubeVirt's
 * `permitBridgeInterfaceOnPodNetwork: false`) nor the PortRangesSpec feature gate.
 */
import { isValidPortName } from '../../kinds/core/container.js';
import type { VmiInterface, VmiNetwork, VmiSpecTyped } from '../launcher/vmi-types.js';
import { type Cause, duplicate, invalid, notSupported, required } from './vmi-validation-causes.js';

type Iface = VmiInterface & Record<string, unknown>;
type Network = VmiNetwork & { resourceClaim?: unknown };

const VALID_MODELS = new Set(['e1000', 'e1000e', 'igb', 'ne2k_pci', 'pcnet', 'rtl8139', 'virtio']);
/** The MAC the in-pod bridge of the masquerade binding uses (link.StaticMasqueradeBridgeMAC). */
const RESERVED_MAC = '02:00:00:00:00:00';
/** hwutil.ParsePciAddress's form: domain:bus:slot.function. */
export const PCI_ADDRESS = /^[\da-fA-F]{4}:[\da-fA-F]{2}:[\da-fA-F]{2}\.[0-7]$/;

/** How many octets a MAC in one of Go's net.ParseMAC forms has (colon/hyphen pairs or dotted quads). */
function macOctets(mac: string): number | undefined {
  if (/^[\da-fA-F]{2}([:-])[\da-fA-F]{2}(\1[\da-fA-F]{2})*$/.test(mac)) return (mac.length + 1) / 3;
  if (/^[\da-fA-F]{4}(\.[\da-fA-F]{4})*$/.test(mac)) return ((mac.length + 1) / 5) * 2;
  return undefined;
}

/** link.ValidateMacAddress: what net.ParseMAC accepts (6, 8 or 20 octets), and then only 6. */
export function macAddressProblem(mac: string): string | undefined {
  if (!mac) return undefined;
  const octets = macOctets(mac);
  if (octets === undefined || ![6, 8, 20].includes(octets)) return `malformed MAC address (${mac})`;
  if (octets > 6) return `too long MAC address (${mac})`;
  return undefined;
}

function bindingCount(i: Iface): number {
  return ['bridge', 'masquerade', 'sriov', 'passtBinding', 'binding'].filter((k) => i[k] !== undefined && i[k] !== null).length;
}

function validateNetworkSources(field: string, networks: Network[]): Cause[] {
  const causes: Cause[] = [];
  const pods = networks.filter((n) => n.pod);
  const multusDefaults = networks.filter((n) => n.multus?.default);
  if (pods.length > 1) causes.push(duplicate(`${field}.interfaces`, `more than one interface is connected to a pod network in ${field}.interfaces`));
  if (multusDefaults.length > 1) causes.push(invalid(`${field}.networks`, 'Multus CNI should only have one default network'));
  if (pods.length > 0 && multusDefaults.length > 0) causes.push(invalid(`${field}.networks`, 'Pod network cannot be defined when Multus default network is defined'));
  networks.forEach((n, i) => {
    const sources = [n.pod, n.multus, n.resourceClaim].filter((s) => s !== undefined && s !== null).length;
    if (sources === 0) causes.push(required(`${field}.networks[${i}]`, 'should have a network type'));
    else if (sources > 1) causes.push(required(`${field}.networks[${i}]`, 'should have only one network type'));
  });
  const unnamed = networks.findIndex((n) => n.multus && !n.multus.networkName);
  if (unnamed >= 0) causes.push(required(`${field}.networks[${unnamed}]`, 'CNI delegating plugin must have a networkName'));
  return causes;
}

function validateBinding(field: string, i: number, iface: Iface, net: Network | undefined): Cause[] {
  const causes: Cause[] = [];
  const path = `${field}.domain.devices.interfaces[${i}]`;
  if (bindingCount(iface) !== 1) causes.push(invalid(path, `logical ${iface.name} interface must have exactly one binding method or binding plugin`));
  if (iface.masquerade && !net?.pod) causes.push(invalid(`${path}.name`, 'Masquerade interface only implemented with pod network'));
  if (iface.masquerade && iface.macAddress === RESERVED_MAC)
    causes.push(invalid(`${path}.macAddress`, 'The requested MAC address is reserved for the in-pod bridge. Please choose another one.'));
  if (iface.bridge && net?.pod) causes.push(invalid(`${path}.name`, 'Bridge on pod network configuration is not enabled under kubevirt-config'));
  return causes;
}

function validatePorts(path: string, iface: Iface): Cause[] {
  const causes: Cause[] = [];
  const names = new Set<string>();
  (iface.ports ?? []).forEach((p, j) => {
    const at = `${path}.ports[${j}]`;
    if (p.name) {
      if (names.has(p.name)) causes.push(duplicate(`${at}.name`, `Duplicate name of the port: ${p.name}`));
      if (isValidPortName(p.name).length) causes.push(invalid(`${at}.name`, `Invalid name of the port: ${p.name}`));
      names.add(p.name);
    }
  });
  (iface.ports ?? []).forEach((p, j) => {
    const at = `${path}.ports[${j}]`;
    if (!p.port) causes.push(required(`${at}.port`, 'Port field is mandatory.'));
    if (p.port < 0 || p.port >= 65536) causes.push(invalid(`${at}.port`, 'Port field must be in range 0 < x < 65536.'));
    if (p.protocol && p.protocol !== 'TCP' && p.protocol !== 'UDP') causes.push(invalid(`${at}.protocol`, 'Unknown protocol, only TCP or UDP allowed'));
  });
  return causes;
}

function validateInterfaceFields(field: string, i: number, iface: Iface, net: Network | undefined): Cause[] {
  const causes: Cause[] = [];
  const path = `${field}.domain.devices.interfaces[${i}]`;
  if (!/^[A-Za-z0-9-_]+$/.test(iface.name ?? ''))
    causes.push(invalid(`${path}.name`, 'Network interface name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)'));
  if (iface.model && !VALID_MODELS.has(iface.model)) causes.push(notSupported(`${path}.model`, `interface ${path}.name uses model ${iface.model} that is not supported.`));
  const macProblem = macAddressProblem(iface.macAddress ?? '');
  if (macProblem) causes.push(invalid(`${path}.macAddress`, `interface ${path}.name has ${macProblem}.`));
  const pci = iface.pciAddress as string | undefined;
  if (pci && !PCI_ADDRESS.test(pci)) causes.push(invalid(`${path}.pciAddress`, `interface ${path}.name has malformed PCI address (${pci}).`));
  if (net?.pod && iface.ports) causes.push(...validatePorts(path, iface));
  if (iface.portRanges !== undefined) causes.push(invalid(`${path}.name`, 'portRanges is specified on interface but the PortRangesSpec feature gate is not enabled'));
  return causes;
}

/** Validator.Validate: the network checks shared by VMIs and VM templates. */
export function validateNetworks(field: string, spec: VmiSpecTyped): Cause[] {
  const networks = (spec.networks ?? []) as Network[];
  const ifaces = (spec.domain.devices.interfaces ?? []) as Iface[];
  const netByName = new Map(networks.map((n) => [n.name, n]));
  const ifaceNames = new Set(ifaces.map((i) => i.name));
  const causes = validateNetworkSources(field, networks);
  ifaces.forEach((iface, i) => causes.push(...validateBinding(field, i, iface, netByName.get(iface.name))));
  const seenNets = new Set<string>();
  networks.forEach((n, i) => {
    if (seenNets.has(n.name)) causes.push(duplicate(`${field}.networks[${i}].name`, `Network with name ${JSON.stringify(n.name)} already exists, every network must have a unique name`));
    seenNets.add(n.name);
  });
  networks.forEach((n, i) => {
    if (!ifaceNames.has(n.name)) causes.push(required(`${field}.networks[${i}].name`, `${field}.networks[${i}].name '${n.name}' not found.`));
  });
  const seenIfaces = new Set<string>();
  ifaces.forEach((iface, i) => {
    if (seenIfaces.has(iface.name)) causes.push(duplicate(`${field}.domain.devices.interfaces[${i}].name`, 'Only one interface can be connected to one specific network'));
    seenIfaces.add(iface.name);
  });
  ifaces.forEach((iface, i) => {
    const path = `${field}.domain.devices.interfaces[${i}].name`;
    if (!netByName.has(iface.name)) causes.push(invalid(path, `${path} '${iface.name}' not found.`));
  });
  ifaces.forEach((iface, i) => causes.push(...validateInterfaceFields(field, i, iface, netByName.get(iface.name))));
  return causes;
}

/** Validator.ValidateCreation: bindings KubeVirt dropped in v1.3, refused on create only. */
export function validateDiscontinuedBindings(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  const gone: [string, string][] = [
    ['slirp', 'Slirp interface support has been discontinued since v1.3'],
    ['passt', 'Passt network binding has been discontinued since v1.3'],
    ['macvtap', 'Macvtap network binding has been discontinued since v1.3'],
  ];
  ((spec.domain.devices.interfaces ?? []) as Iface[]).forEach((iface, i) => {
    for (const [key, message] of gone) if (iface[key] !== undefined && iface[key] !== null) causes.push(invalid(`${field}.domain.devices.interfaces[${i}].${key}`, message));
  });
  return causes;
}
