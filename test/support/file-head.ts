/** The first `n` bytes of a file (fewer when it is shorter: the rest of the buffer stays zero). */
import { closeSync, openSync, readSync } from 'node:fs';

export function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}
