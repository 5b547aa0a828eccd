/**
 * The one interface every volume type implements, and where its files live on the node:
 *
 *   DATA/pods/<uid>/volumes/<plugin>/<volume>   what containers see (the kubelet's layout,
 *                                               plugin `kubernetes.io/configmap` → dir
 *                                               `kubernetes.io~configmap`)
 *   DATA/pods/<uid>/plugins/<plugin>/<volume>   the plugin's bookkeeping (emptyDir's `ready`)
 *
 * Nothing else is needed to find and remove a pod's volumes after an agent restart.
 */
import { join } from 'node:path';
import type { Logger } from '../../client/log.js';
import type { Pod, PodObjectSource, Volume } from '../pods/api-types.js';
import type { TokenManager } from './token-manager.js';

/** A volume ready on the host: what a container's volumeMount binds. */
export interface PreparedVolume {
  hostPath: string;
  /** Always mounted read-only (configMap, secret, downwardAPI, projected), whatever the volumeMount says. */
  readOnly: boolean;
  kind: 'dir' | 'file' | 'block';
  /** A volumeMode Block volume: used through volumeDevices only (a hostPath block device may also be mounted). */
  blockVolume?: boolean;
}

export interface VolumeContext {
  pod: Pod;
  volume: Volume;
  /** DATA/pods/<uid>, without symlinks (mount points are compared as paths). */
  podDir: string;
  source: PodObjectSource;
  tokens: TokenManager;
  /** pod.spec.securityContext.fsGroup: group owner (and setgid) of the volume's files. */
  fsGroup?: number;
  /** The one runAsUser all containers share, if they do (upstream FsUserFrom): owner of token files. */
  fsUser?: number;
  logger: Logger;
  now: () => number;
}

/** Teardown works from disk alone: no pod spec, only what the directory names say. */
export interface VolumeTeardownContext {
  podUid: string;
  podDir: string;
  volumeName: string;
  /** volumes/<plugin>/<volume> */
  volumeDir: string;
  logger: Logger;
}

export interface VolumePlugin {
  /** The upstream plugin name, `kubernetes.io/empty-dir`; its volumes live under its escaped name. */
  name: string;
  canSupport(v: Volume): boolean;
  /** Makes the volume ready; called on every pod sync, so idempotent (and refreshing, where contents follow API objects). */
  setup(ctx: VolumeContext): Promise<PreparedVolume>;
  /** Plugin-specific cleanup before the volume manager unmounts and removes the volume's dir. */
  teardown?(ctx: VolumeTeardownContext): Promise<void>;
}

/** Upstream EscapeQualifiedName: the plugin name as one path segment. */
export const pluginDirName = (plugin: string) => plugin.replace(/\//g, '~');

export const volumesDir = (podDir: string) => join(podDir, 'volumes');
export const pluginsDir = (podDir: string) => join(podDir, 'plugins');

/** Where the volume's contents live: volumes/<plugin>/<volume>. */
export const volumeDir = (podDir: string, plugin: string, volume: string) => join(volumesDir(podDir), pluginDirName(plugin), volume);

/** The plugin's bookkeeping dir for the volume: plugins/<plugin>/<volume>. */
export const pluginMetaDir = (podDir: string, plugin: string, volume: string) => join(pluginsDir(podDir), pluginDirName(plugin), volume);
