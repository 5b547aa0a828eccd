/** The parts of `ceph status --format json` (Pacific) that Cairn reads. */
export interface HealthCheck {
  severity: 'HEALTH_WARN' | 'HEALTH_ERR';
  summary: { message: string };
}

export interface CephStatus {
  fsid: string;
  health: { status: 'HEALTH_OK' | 'HEALTH_WARN' | 'HEALTH_ERR'; checks: Record<string, HealthCheck> };
  osdmap: { num_osds: number; num_up_osds: number; num_in_osds: number };
  pgmap: { num_pgs: number; num_pools: number; bytes_used: number; bytes_avail: number; bytes_total: number; pgs_by_state?: { state_name: string; count: number }[] };
  mgrmap: { available: boolean };
  fsmap: { up: number; in: number; by_rank: { name: string; status: string }[] };
}

/** `ceph osd tree --format json` nodes: hosts and OSDs. */
export interface OsdTree {
  nodes: { id: number; name: string; type: string; status?: string; children?: number[] }[];
}

/** `ceph df --format json` pools. */
export interface CephDf {
  pools: { name: string; id: number; stats: { stored: number; objects: number; percent_used: number; max_avail: number } }[];
}
