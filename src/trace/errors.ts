/** A trace that cannot be made (unknown pod, missing port, cluster not up): one line for the user. */
export class TraceError extends Error {
  override name = 'TraceError';
}
