/** A problem bringing a Ceph cluster up, down or reading its status, worded for the CLI user. */
export class CephClusterError extends Error {
  override name = 'CephClusterError';
}
