/**
 * The volume plugins the manager knows: the built-ins, then the node's own (the agent's
 * persistentVolumeClaim plugin, which needs its API caches and storage drivers, is handed to its
 * VolumeManager). A volume no plugin supports fails its mount with a clear message.
 */
import { configMapPlugin } from './config-map.js';
import { downwardAPIPlugin } from './downward-api.js';
import { emptyDirPlugin } from './empty-dir.js';
import { hostPathPlugin } from './host-path.js';
import { pluginDirName, type VolumePlugin } from './plugin.js';
import { projectedPlugin } from './projected.js';
import { secretPlugin } from './secret.js';
import type { Volume } from '../pods/api-types.js';

const builtins: readonly VolumePlugin[] = [emptyDirPlugin, configMapPlugin, secretPlugin, downwardAPIPlugin, projectedPlugin, hostPathPlugin];

export function pluginFor(v: Volume, extra: readonly VolumePlugin[] = []): VolumePlugin | undefined {
  return [...builtins, ...extra].find((p) => p.canSupport(v));
}

/** The plugin whose volumes live under volumes/<dirName> (teardown from disk). */
export function pluginByDirName(dirName: string, extra: readonly VolumePlugin[] = []): VolumePlugin | undefined {
  return [...builtins, ...extra].find((p) => pluginDirName(p.name) === dirName);
}

/** Why no plugin takes a volume, in the words the FailedMount event carries. */
export const UNSUPPORTED_VOLUME_MESSAGE = 'no volume plugin matched';
