/**
 * The volume manager's errors, as the kubelet reports them. A volume that cannot be set up keeps
 * its pod in ContainerCreating; the agent posts one `FailedMount` event per failed volume with
 * the kubelet's text (`MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not
 * found`) and tries again on the next sync.
 */

export class VolumeSetupError extends Error {
  override name = 'VolumeSetupError';
  /** The event reason. */
  readonly reason = 'FailedMount';
  /** Every volume of the pod that failed in the same setup call, this one first. */
  all: VolumeSetupError[] = [this];

  constructor(
    readonly volume: string,
    /** Why, without the kubelet's prefix: `configmap "app-config" not found`. */
    readonly detail: string,
  ) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${detail}`);
  }
}

/** A pod's volumes could not be removed (a mount that does not go away); the pod dir is left alone. */
export class VolumeTeardownError extends Error {
  override name = 'VolumeTeardownError';
  constructor(
    readonly podUid: string,
    message: string,
  ) {
    super(message);
  }
}
