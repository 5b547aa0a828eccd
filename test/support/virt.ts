/**
 * What VM tests on a `cairn up` cluster share: the offline test guest's disk served over HTTP from
 * the host's bridge address (every node and pod reaches it), a VirtualMachine booting that disk
 * through a DataVolume with a cloudInitNoCloud disk, and waiting for its VMI to run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDir } from '../../src/cluster/layout.js';
import { testGuest } from '../../src/virt/test-guest.js';
import type { CairnCluster } from './cairn-cluster.js';
import { image, layer, ociLayoutTar } from './image-builder.js';
import { listenOn } from './listen.js';
import { until } from './until.js';

/** TCG boots are slow on a busy 2-core machine. */
export const VM_BOOT_MS = 300_000;

/**
 * cloud-config `write_files` entries (user data after `write_files:`) giving the test guest two
 * CGIs on its HTTP server: /cgi-bin/mark?TEXT writes TEXT to its boot disk (synced), and
 * /cgi-bin/read-mark reads it back past the page cache — for tests of disk data surviving
 * migrations, restarts and node loss.
 */
export const DISK_MARK_CGIS = `- path: /www/cgi-bin/mark
  permissions: '0755'
  content: |
    #!/bin/sh
    echo "Content-Type: text/plain"
    echo
    echo "$QUERY_STRING" > /mnt/disk/mark
    sync
    cat /mnt/disk/mark
- path: /www/cgi-bin/read-mark
  permissions: '0755'
  content: |
    #!/bin/sh
    echo "Content-Type: text/plain"
    echo
    echo 3 > /proc/sys/vm/drop_caches
    cat /mnt/disk/mark
`;

export interface GuestDiskServer {
  /** `http://<bridge>:<port>`; the disk is at `/disk.qcow2`. */
  base: string;
  close(): Promise<void>;
}

export async function serveGuestDisk(cluster: CairnCluster): Promise<GuestDiskServer> {
  const disk = readFileSync(testGuest().diskQcow2);
  const server: Server = createServer((req, res) => {
    if (req.url !== '/disk.qcow2') return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': disk.length }).end(disk);
  });
  const host = `${cluster.underlayPrefix}.1`;
  const port = await listenOn(server, host);
  return { base: `http://${host}:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** The containerDisk image importContainerDisk loads. */
export const CONTAINER_DISK = 'cairn.local/test-guest-disk:1';

/** Writes the test guest's qcow2 as a containerDisk image (KubeVirt's layout: the one file under /disk) to `dir`; returns the OCI layout tar's path. */
export function writeContainerDiskTar(dir: string): string {
  const img = image([layer([{ name: 'disk', type: 'directory', mode: 0o555 }, { name: 'disk/disk.qcow2', data: readFileSync(testGuest().diskQcow2), mode: 0o444 }])]);
  const tar = join(dir, 'disk.tar');
  writeFileSync(tar, ociLayoutTar(img, CONTAINER_DISK));
  return tar;
}

/** Loads the containerDisk image into every node. */
export async function importContainerDisk(cluster: CairnCluster): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-containerdisk-'));
  try {
    const tar = writeContainerDiskTar(dir);
    for (let n = 1; n <= cluster.nodes; n++) {
      const r = await cluster.cairn('image', 'import', tar, '--data-dir', nodeDir(cluster.dir, n), '--name', CONTAINER_DISK);
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A VirtualMachine (runStrategy Always) booting the guest disk from a DataVolume, with `userData` on a NoCloud disk. */
/** User data as the block scalar of a `cloudInitNoCloud.userData: |` in a VM manifest (12 spaces deep). */
export function userDataBlock(userData: string): string {
  return userData.trimEnd().split('\n').map((l) => `            ${l}`).join('\n');
}

export function guestVmManifest(o: { name: string; base: string; userData: string; labels?: Record<string, string> }): string {
  const labels = Object.entries(o.labels ?? {}).map(([k, v]) => `\n    ${k}: ${v}`).join('');
  const tplLabels = Object.entries(o.labels ?? {}).map(([k, v]) => `\n        ${k}: ${v}`).join('');
  const userData = userDataBlock(o.userData);
  return `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: ${o.name}${labels ? `\n  labels:${labels}` : ''}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata:
      name: ${o.name}-root
    spec:
      source:
        http:
          url: ${o.base}/disk.qcow2
      storage:
        resources:
          requests:
            storage: 64Mi
  template:${tplLabels ? `\n    metadata:\n      labels:${tplLabels}` : ''}
    spec:
      domain:
        cpu:
          cores: 1
        memory:
          guest: 128Mi
        devices:
          disks:
          - name: root
            disk:
              bus: virtio
          - name: cloudinit
            disk:
              bus: virtio
      volumes:
      - name: root
        dataVolume:
          name: ${o.name}-root
      - name: cloudinit
        cloudInitNoCloud:
          userData: |
${userData}
`;
}

export interface VmiJson {
  metadata: { uid: string; annotations?: Record<string, string> };
  status?: { phase?: string; nodeName?: string; interfaces?: { ipAddress?: string; mac?: string; name?: string }[]; conditions?: { type: string; status: string; reason?: string }[] };
}

export async function getVmi(cluster: CairnCluster, ns: string, name: string): Promise<VmiJson | undefined> {
  const r = await cluster.kubectl(['get', 'vmi', '-n', ns, name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as VmiJson) : undefined;
}

/** The VMI once Running with its pod IP on the interface (and, given `notUid`, a new one). */
export function waitVmiRunning(cluster: CairnCluster, ns: string, name: string, notUid?: string): Promise<VmiJson> {
  return until(
    `VMI ${name} Running`,
    async () => {
      const v = await getVmi(cluster, ns, name);
      return v?.status?.phase === 'Running' && v.metadata.uid !== notUid && v.status.interfaces?.[0]?.ipAddress ? v : undefined;
    },
    VM_BOOT_MS,
    1000,
  );
}

/** `kubectl exec POD -- wget` of a URL until it answers (a guest boots a while after QEMU starts). */
export function fetchFromPod(cluster: CairnCluster, ns: string, pod: string, url: string): Promise<string> {
  return until(
    `GET ${url} from pod ${pod}`,
    async () => {
      const r = await cluster.kubectl(['exec', '-n', ns, pod, '--', 'timeout', '10', 'wget', '-qO-', url], { timeoutMs: 30_000 });
      return r.code === 0 ? r.stdout : undefined;
    },
    VM_BOOT_MS,
    2000,
  );
}
