/** OCI and Docker media types and the JSON shapes of manifests, indexes and image configs. */
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** What we accept for a manifest GET, best first. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, unknown>;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs?: { type: string; diff_ids: string[] };
}

export function isIndex(mediaType: string | undefined, doc: unknown): boolean {
  if (mediaType === MT.ociIndex || mediaType === MT.dockerList) return true;
  if (mediaType === MT.ociManifest || mediaType === MT.dockerManifest) return false;
  return Array.isArray((doc as ImageIndex)?.manifests);
}

export function isManifest(mediaType: string | undefined, doc: unknown): boolean {
  if (mediaType === MT.ociManifest || mediaType === MT.dockerManifest) return true;
  if (mediaType === MT.ociIndex || mediaType === MT.dockerList) return false;
  const m = doc as ImageManifest;
  return !!m?.config && Array.isArray(m?.layers);
}

/** Picks the linux/amd64 entry of an index (the first one; variant ignored for amd64). */
export function choosePlatform(index: ImageIndex, os = 'linux', arch = 'amd64'): Descriptor | undefined {
  return (index.manifests ?? []).find((d) => d.platform?.os === os && d.platform?.architecture === arch);
}
