/** A problem bringing a local cluster up, down or reading its status, worded for the CLI user. */
export class ClusterError extends Error {
  override name = 'ClusterError';
}
