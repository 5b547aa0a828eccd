/**
 * Connecting to a unix socket by a path of any length. A sockaddr_un holds at most 107 bytes of
 * path, and the sockets QEMU makes inside a pod's volumes sit deep under the agent's data dir
 * (`.../pods/UID/volumes/kubernetes.io~empty-dir/private/serial.sock`), past that limit. A long
 * path is reached through an open descriptor of its directory: `/proc/self/fd/N/NAME` is short
 * and names the same socket.
 */
import { closeSync, openSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { basename, dirname } from 'node:path';

/** The longest path a sockaddr_un takes (108 bytes with the terminating NUL). */
const MAX_SUN_PATH = 107;

/** A connecting socket to the unix socket at `path`; failures (ENOENT, ECONNREFUSED) come as its 'error' event. */
export function connectUnixSocket(path: string): Socket {
  if (Buffer.byteLength(path) <= MAX_SUN_PATH) return connect(path);
  let dirFd: number;
  try {
    dirFd = openSync(dirname(path), 'r');
  } catch (e) {
    // Reported as a direct connect reports it: on the socket, after the caller has listened.
    const failed = new Socket();
    process.nextTick(() => failed.destroy(e as Error));
    return failed;
  }
  const sock = connect(`/proc/self/fd/${dirFd}/${basename(path)}`);
  // The kernel resolves the path within connect(2); the descriptor is not needed after it.
  let open = true;
  const release = () => {
    if (open) closeSync(dirFd);
    open = false;
  };
  sock.once('connect', release);
  sock.once('close', release);
  return sock;
}
