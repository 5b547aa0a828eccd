/**
 * The volume plugins the manager knows, built-ins first. Other volume types (the storage work's
 * persistentVolumeClaim, CSI) join with registerVolumePlugin; a volume no plugin supports fails
 * its mount with a clear message.
 */
import { configMapPlugin } from './config-map.js';
import { downwardAPIPlugin } from './downward-api.js';
import { emptyDirPlugin } from './empty-dir.js';
import { hostPathPlugin } from './host-path.js';
import { pluginDirName, type VolumePlugin } from './plugin.js';
import { projectedPlugin } from './projected.js';
import { secretPlugin } from './secret.js';
import type { Volume } from '../pods/api-types.js';

const plugins: VolumePlugin[] = [emptyDirPlugin, configMapPlugin, secretPlugin, downwardAPIPlugin, projectedPlugin, hostPathPlugin];

export function registerVolumePlugin(plugin: VolumePlugin): void {
  if (plugins.some((p) => p.name === plugin.name)) throw new Error(`volume plugin ${plugin.name} is already registered`);
  plugins.push(plugin);
}

export function volumePlugins(): readonly VolumePlugin[] {
  return plugins;
}

export function pluginFor(v: Volume): VolumePlugin | undefined {
  return plugins.find((p) => p.canSupport(v));
}

/** The plugin whose volumes live under volumes/<dirName> (teardown from disk). */
export function pluginByDirName(dirName: string): VolumePlugin | undefined {
  return plugins.find((p) => pluginDirName(p.name) === dirName);
}

/** Why no plugin takes a volume, in the words the FailedMount event carries. */
export function unsupportedVolumeMessage(v: Volume): string {
  if (v.persistentVolumeClaim) return `persistentVolumeClaim volumes are not supported yet (claim "${v.persistentVolumeClaim.claimName}")`;
  return 'no volume plugin matched';
}
