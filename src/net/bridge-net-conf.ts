// A NetworkAttachmentDefinition's CNI configuration, as far as Cairn's node agent implements it:
// the CNI `bridge` plugin (a single config, or a conflist of that one plugin) with its
// `bridge` (default cni0), `vlan` and `mtu`, and IPAM
// that is empty (L2 only, KubeVirt's usual case) or `static` (its `addresses`, and the `ips`
// capability for addresses from the networks annotation). Anything else is refused with the
// reason, as the plugin or Multus would fail the sandbox. Pure.
import { checkIfName, InvalidArgumentError, ipv4ToInt, parseCidr } from './ip.js';
import { BRIDGE } from './overlay.js';

export class NetConfError extends Error {
  override name = 'NetConfError';
}

export interface BridgeNetConf {
  /** The CNI network's own name (the config's `name`). */
  name?: string;
  bridge: string;
  /** The VLAN of the pod's port (its PVID, untagged; ./vlan-domains.ts). */
  vlan?: number;
  mtu?: number;
  ipam: { type: 'none' } | { type: 'static'; addresses: string[]; gateways: string[]; ipsCapability: boolean };
}

const DEFAULT_BRIDGE = 'cni0';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function intField(o: Obj, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new NetConfError(`${key} must be an integer in ${min}..${max}, not ${JSON.stringify(v)}`);
  return v;
}

/** "a.b.c.d/n" with a host address (the static plugin's `address`). */
function checkIfaceCidr(text: string): string {
  try {
    const c = parseCidr(text, false);
    const ip = text.split('/')[0]!;
    if (c.prefix < 32 && (ipv4ToInt(ip) === c.base || ipv4ToInt(ip) === c.base + c.size - 1)) throw new NetConfError(`${text} is not a host address of its subnet`);
    return text;
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new NetConfError(`invalid address ${JSON.stringify(text)}: IPv4 CIDR expected (IPv6 is not supported)`);
    throw e;
  }
}

function parseIpam(v: unknown): BridgeNetConf['ipam'] {
  if (v === undefined || v === null) return { type: 'none' };
  if (!isObj(v)) throw new NetConfError('ipam must be an object');
  if (Object.keys(v).length === 0) return { type: 'none' };
  if (v['type'] !== 'static') throw new NetConfError(`IPAM type ${JSON.stringify(v['type'])} is not supported (an empty ipam {} for L2 only, or "static")`);
  const list = v['addresses'] ?? [];
  if (!Array.isArray(list)) throw new NetConfError('ipam.addresses must be a list');
  const addresses: string[] = [];
  const gateways: string[] = [];
  for (const a of list) {
    if (!isObj(a) || typeof a['address'] !== 'string') throw new NetConfError('each ipam.addresses entry needs an "address"');
    addresses.push(checkIfaceCidr(a['address']));
    if (typeof a['gateway'] === 'string') gateways.push(a['gateway']);
  }
  return { type: 'static', addresses, gateways, ipsCapability: false };
}

/** The bridge plugin's config out of a NAD's spec.config (JSON text); throws NetConfError saying what is unsupported. */
export function parseBridgeNetConf(configText: string): BridgeNetConf {
  let doc: unknown;
  try {
    doc = JSON.parse(configText);
  } catch (e) {
    throw new NetConfError(`the CNI config is not JSON: ${(e as Error).message}`);
  }
  if (!isObj(doc)) throw new NetConfError('the CNI config must be a JSON object');
  let conf: Obj = doc;
  const netName = typeof doc['name'] === 'string' ? doc['name'] : undefined;
  if (Array.isArray(doc['plugins'])) {
    const plugins = doc['plugins'] as unknown[];
    if (plugins.length !== 1 || !isObj(plugins[0])) throw new NetConfError(`a conflist of ${plugins.length} plugins is not supported (one "bridge" plugin)`);
    conf = plugins[0];
  }
  if (conf['type'] !== 'bridge') throw new NetConfError(`CNI plugin type ${JSON.stringify(conf['type'])} is not supported (only "bridge")`);
  const bridge = conf['bridge'] ?? DEFAULT_BRIDGE;
  if (typeof bridge !== 'string') throw new NetConfError('bridge must be a string');
  try {
    checkIfName(bridge);
  } catch {
    throw new NetConfError(`invalid bridge name ${JSON.stringify(bridge)}`);
  }
  if (bridge === BRIDGE) throw new NetConfError(`bridge ${BRIDGE} is the pod network's own`);
  const vlan = intField(conf, 'vlan', 0, 4094);
  for (const unsupported of ['isGateway', 'isDefaultGateway', 'ipMasq', 'vlanTrunk', 'disableContainerInterface']) {
    if (conf[unsupported] !== undefined && conf[unsupported] !== false) throw new NetConfError(`bridge option ${unsupported} is not supported`);
  }
  const ipam = parseIpam(conf['ipam']);
  const caps = conf['capabilities'];
  if (ipam.type === 'static' && isObj(caps) && caps['ips'] === true) ipam.ipsCapability = true;
  const mtu = intField(conf, 'mtu', 68, 65535);
  return {
    ...(netName ? { name: netName } : {}),
    bridge,
    ...(vlan ? { vlan } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ipam,
  };
}
