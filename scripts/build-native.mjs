#!/usr/bin/env node
// Compiles Cairn's native helpers (native/*.c) into dist/native/ with the system C compiler.
// Part of `npm run build`; a helper is rebuilt only when its source is newer than the binary.
// Needs gcc and libc6-dev (scripts/setup.sh installs them).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'native');
const outDir = join(root, 'dist', 'native');
mkdirSync(outDir, { recursive: true });

for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.c'))) {
  const src = join(srcDir, file);
  const out = join(outDir, file.slice(0, -2));
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src, '-lutil'], { stdio: 'inherit' });
  } catch (e) {
    const missing = e && e.code === 'ENOENT';
    console.error(`build-native: ${missing ? 'no C compiler (cc) found' : `cc failed on ${file}`}: run scripts/setup.sh (apt-get install gcc libc6-dev)`);
    process.exit(1);
  }
}
