// The JSON Schema of a fabric topology file, published by `cairn fabric schema` for editors and
// used by the loader (shape.ts) to reject wrong types and unknown fields with their path.
import { FABRIC_DEFAULTS as D, FABRIC_LIMITS as L } from './defaults.js';
import type { JsonSchema } from './shape.js';

const octet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const ipv4 = `${octet}(\\.${octet}){3}`;

const int = (description: string, range?: { min: number; max: number }, dflt?: number): JsonSchema => ({
  type: 'integer',
  description,
  ...(range ? { minimum: range.min, maximum: range.max } : {}),
  ...(dflt !== undefined ? { default: dflt } : {}),
});
const ref = (name: string, description?: string): JsonSchema => ({ $ref: `#/$defs/${name}`, ...(description ? { description } : {}) });
const obj = (properties: Record<string, JsonSchema>, required: string[], description?: string): JsonSchema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required,
  additionalProperties: false,
});

export const fabricSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://cairn.dev/schemas/fabric-topology.json',
  title: 'Cairn fabric topology',
  description: 'A switchless hyperconverged cluster: nodes wired directly to each other, /32 underlay addresses, EVPN/VXLAN overlay, corosync and Ceph networks.',
  $defs: {
    ipv4: { type: 'string', pattern: `^${ipv4}$`, description: 'an IPv4 address such as 10.10.10.1' },
    cidr: { type: 'string', pattern: `^${ipv4}/(3[0-2]|[12]?[0-9])$`, description: 'an IPv4 subnet such as 10.10.10.0/24' },
    name: { type: 'string', pattern: '^[^\\s]+$', description: 'a name without spaces' },
  },
  ...obj(
    {
      name: ref('name', 'The fabric (cluster) name.'),
      target: { type: 'string', enum: ['ifupdown2', 'proxmox'], default: D.target, description: "Whose interface naming rules apply: plain ifupdown2, or Proxmox VE's on top (VXLAN devices named en...<number>)." },
      mtu: obj(
        {
          underlay: int('MTU of the mesh NICs.', L.mtu, D.underlayMtu),
          overlay: int('MTU of the VXLAN devices and bridges (what guests get); the underlay needs 50 bytes more.', L.mtu, D.overlayMtu),
        },
        [],
      ),
      loopbackSubnet: ref('cidr', 'The subnet the nodes\' loopback (router) addresses come from.'),
      networks: {
        type: 'array',
        minItems: 1,
        description: 'Underlay networks; each node has one /32 in each, on every mesh NIC.',
        items: obj(
          {
            name: ref('name'),
            subnet: ref('cidr'),
            localPreference: int('BGP local-preference of routes learned over this network (eBGP underlay).', L.localPreference, D.localPreference),
          },
          ['name', 'subnet'],
        ),
      },
      nodes: {
        type: 'array',
        minItems: 1,
        items: obj(
          {
            name: ref('name', 'Host name (also the corosync node name and the Ceph monitor id).'),
            loopback: ref('ipv4', 'Loopback /32: router-id, and the VTEP when evpn.vtep is "loopback".'),
            asn: int('The node\'s own AS (eBGP scheme only).', L.asn),
            addresses: { type: 'object', description: 'The node\'s /32 address in each underlay network, by network name.', additionalProperties: ref('ipv4') },
            nics: {
              type: 'array',
              minItems: 1,
              items: obj({ name: ref('name'), mtu: int('Overrides mtu.underlay for this NIC.', L.mtu) }, ['name']),
            },
          },
          ['name', 'loopback', 'addresses', 'nics'],
        ),
      },
      links: {
        type: 'array',
        description: 'Direct cables between NICs of two nodes.',
        items: obj(
          {
            name: ref('name', 'Defaults to "<node a>-<node b>".'),
            ends: { type: 'array', minItems: 2, maxItems: 2, items: obj({ node: ref('name'), nic: ref('name') }, ['node', 'nic']) },
          },
          ['ends'],
        ),
      },
      bgp: obj(
        {
          scheme: { type: 'string', enum: ['ibgp', 'ebgp'], description: 'ibgp: one AS (bgp.asn), static underlay routes, EVPN only. ebgp: an AS per node (nodes[].asn), underlay learned by BGP.' },
          asn: int('The cluster\'s AS (iBGP scheme only).', L.asn),
          timers: obj({ keepalive: int('Seconds.', L.timer, D.keepalive), hold: int('Seconds (0, or at least 3).', L.timer, D.hold) }, []),
        },
        ['scheme'],
      ),
      evpn: obj(
        {
          vtep: { type: 'string', default: D.vtep, description: '"loopback", or the underlay network whose address is the VTEP and EVPN peering address.' },
          vnis: {
            type: 'array',
            minItems: 1,
            items: obj(
              {
                vni: int('VXLAN network identifier.', L.vni),
                vxlan: ref('name', 'The VXLAN device.'),
                bridge: ref('name', 'The bridge the VXLAN device and the guests attach to.'),
                subnet: ref('cidr', 'The guests\' subnet on this VNI (the lab addresses its guests from it).'),
              },
              ['vni', 'vxlan', 'bridge'],
            ),
          },
        },
        ['vnis'],
      ),
      corosync: obj(
        {
          clusterName: ref('name'),
          links: {
            type: 'array',
            minItems: 1,
            maxItems: L.corosyncLinks,
            description: 'knet links in link-number order; each on an underlay network.',
            items: obj({ network: ref('name'), priority: int('knet_link_priority (highest carries traffic); defaults descend from link 0.', L.knetPriority) }, ['network']),
          },
        },
        ['clusterName', 'links'],
      ),
      ceph: obj(
        {
          fsid: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'a UUID' },
          publicNetwork: ref('name', 'Underlay network the monitors and clients use (the storage network).'),
          clusterNetwork: ref('name', 'Underlay network for OSD replication.'),
          monitors: { type: 'array', minItems: 1, items: ref('name') },
        },
        ['fsid', 'publicNetwork', 'clusterNetwork', 'monitors'],
      ),
    },
    ['name', 'loopbackSubnet', 'networks', 'nodes', 'links', 'bgp', 'evpn', 'corosync', 'ceph'],
  ),
};
