/**
 * CDI's `pullMethod: node` for a registry source: the node pulls the containerDisk image, as for
 * any container (the node's image store, its registry access and credentials), because the image
 * runs as a container of the importer pod. It has no programs of its own, so — as CDI copies
 * its small file server into a shared emptyDir — an init container from the importer's host-tools
 * image copies the node's static busybox there, and the image's container runs it: it finds the
 * one file under /disk, links it as disk.img, serves it on 127.0.0.1:8100 (the pod's own
 * loopback), marks the shared directory ready, and exits once the importer marked it done. The
 * importer imports http://127.0.0.1:8100/disk.img like an http source. A missing disk is written
 * to the shared directory, so the importer fails with CDI's message.
 */
import type { KubeObject } from '../../util/object.js';
import type { RegistrySource } from './datavolume-api.js';
import { cdiImporterImage } from './importer-image.js';
import { NO_DISK_IN_IMAGE, DOCKER_SCHEME } from './registry-source.js';

/** The shared emptyDir, its files, and the port of the disk container's file server (CDI's). */
export const SHARED_DIR = '/shared';
export const READY_FILE = `${SHARED_DIR}/ready`;
export const DONE_FILE = `${SHARED_DIR}/done`;
export const ERROR_FILE = `${SHARED_DIR}/error`;
export const NODE_PULL_PORT = 8100;
export const NODE_PULL_ENDPOINT = `http://127.0.0.1:${NODE_PULL_PORT}/disk.img`;
/** Where the node's busybox is (busybox-static: it runs in an image with no libraries). */
const HOST_BUSYBOX = '/bin/busybox';

export const isNodePull = (r: RegistrySource | undefined): boolean => r?.pullMethod === 'node';

/** The disk container's script: positional parameters only, so nothing from the DataVolume is ever parsed as shell. */
const SERVE_DISK = [
  'B=$1/busybox',
  'f=$($B find /disk -maxdepth 1 -type f | $B head -n 1)',
  'if [ -z "$f" ]; then echo "$2" > $1/error; exit 0; fi',
  '$B mkdir -p $1/www && $B ln -sf "$f" $1/www/disk.img',
  '$B httpd -p 127.0.0.1:$3 -h $1/www',
  '$B touch $1/ready',
  'while [ ! -e $1/done ]; do $B sleep 1; done',
].join('\n');

interface PodShape {
  spec: { containers: Record<string, unknown>[]; initContainers?: Record<string, unknown>[]; volumes: Record<string, unknown>[] };
}

/** Turns an importer pod into CDI's node-pull shape for the registry source `r`. */
export function withNodePull(pod: KubeObject, r: RegistrySource): KubeObject {
  const p = pod as KubeObject & PodShape;
  const shared = { name: 'cdi-shared', mountPath: SHARED_DIR };
  const image = r.url!.slice(DOCKER_SCHEME.length);
  const [importer] = p.spec.containers;
  const env = ((importer!.env as { name: string }[]) ?? []).filter((e) => e.name !== 'IMPORTER_ENDPOINT' && e.name !== 'IMPORTER_SOURCE');
  return {
    ...p,
    spec: {
      ...p.spec,
      initContainers: [
        { name: 'copy-server', image: cdiImporterImage(), imagePullPolicy: 'IfNotPresent', command: ['/bin/cp', HOST_BUSYBOX, `${SHARED_DIR}/busybox`], volumeMounts: [shared] },
      ],
      containers: [
        {
          ...importer,
          env: [
            ...env,
            { name: 'IMPORTER_SOURCE', value: 'http' },
            { name: 'IMPORTER_ENDPOINT', value: NODE_PULL_ENDPOINT },
            { name: 'IMPORTER_READY_FILE', value: READY_FILE },
            { name: 'IMPORTER_DONE_FILE', value: DONE_FILE },
            { name: 'IMPORTER_ERROR_FILE', value: ERROR_FILE },
          ],
          volumeMounts: [...((importer!.volumeMounts as object[]) ?? []), shared],
        },
        {
          name: 'server',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: [`${SHARED_DIR}/busybox`, 'sh', '-c', SERVE_DISK, 'serve-disk', SHARED_DIR, NO_DISK_IN_IMAGE, String(NODE_PULL_PORT)],
          volumeMounts: [shared],
        },
      ],
      volumes: [...p.spec.volumes, { name: 'cdi-shared', emptyDir: {} }],
    },
  } as KubeObject;
}
