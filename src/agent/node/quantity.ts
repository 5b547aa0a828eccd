/**
 * Byte counts as the kubelet prints them: resource.NewQuantity(n, BinarySI) in canonical form —
 * the largest binary suffix that divides n exactly (`8148236Ki`, `2Mi`, `1Gi`), else the plain
 * integer (what `kubectl get node -o yaml` shows for allocatable ephemeral-storage).
 */
const SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

export function binaryQuantity(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`not a byte count: ${bytes}`);
  if (bytes === 0) return '0';
  let n = bytes;
  let i = 0;
  while (i < SUFFIXES.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n}${SUFFIXES[i]}`;
}

export const MI = 1024 * 1024;
