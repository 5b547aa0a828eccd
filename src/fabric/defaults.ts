// Values a topology file may leave out. Kept apart from topology.ts so both the loader and the
// published JSON Schema (schema.ts) read the same numbers without importing each other.
export const FABRIC_DEFAULTS = {
  target: 'ifupdown2',
  /** Underlay NIC MTU: jumbo frames, as switchless meshes of direct cables allow. */
  underlayMtu: 9000,
  /** Guest-facing MTU on the VXLAN bridges. */
  overlayMtu: 1500,
  /** BGP timers of the seed designs: hold 15 s, keepalive a third of it. */
  keepalive: 5,
  hold: 15,
  localPreference: 100,
  vtep: 'loopback',
} as const;

/**
 * Numeric bounds, shared by the published schema (for editors) and validate.ts (which reports
 * them together with every other design problem, rather than stopping the load at the first).
 */
export const FABRIC_LIMITS = {
  /** VXLAN network identifiers are 24 bits; 0 is not usable. */
  vni: { min: 1, max: 16_777_215 },
  /** 4-byte AS numbers (RFC 6793); 0 is reserved. */
  asn: { min: 1, max: 4_294_967_295 },
  /** Linux accepts IPv4 MTUs from 68; 65535 is the largest the kernel allows on these devices. */
  mtu: { min: 68, max: 65_535 },
  /** BGP hold time 0 (never expire) or at least 3 s (RFC 4271 4.2); keepalive up to 65535. */
  timer: { min: 0, max: 65_535 },
  /** knet_link_priority is a byte. */
  knetPriority: { min: 0, max: 255 },
  /** knet supports up to 8 links. */
  corosyncLinks: 8,
  localPreference: { min: 0, max: 4_294_967_295 },
} as const;
