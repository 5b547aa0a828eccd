/**
 * The one wrapper around the kernel's core_pattern (/proc/sys/kernel/core_pattern): read it,
 * write it (checked by reading back, since the kernel cuts long values silently), and build the
 * pipe pattern that runs Cairn's handler.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CoreDumpError } from './errors.js';

export const CORE_PATTERN_FILE = '/proc/sys/kernel/core_pattern';
/** CORENAME_MAX_SIZE is 128 bytes with the terminating NUL. */
export const MAX_PATTERN_LENGTH = 127;

export function readCorePattern(file = CORE_PATTERN_FILE): string {
  try {
    return readFileSync(file, 'utf8').replace(/\n$/, '');
  } catch (e) {
    throw new CoreDumpError(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

export function writeCorePattern(value: string, file = CORE_PATTERN_FILE): void {
  try {
    writeFileSync(file, `${value}\n`);
  } catch (e) {
    throw new CoreDumpError(`cannot write ${file}: ${(e as Error).message}`, { cause: e });
  }
  const back = readCorePattern(file);
  if (back !== value) throw new CoreDumpError(`${file} did not take ${JSON.stringify(value)} (reads ${JSON.stringify(back)})`);
}

/**
 * `|<command...> <spool> %P %s %t %c`. The kernel runs the first word (an absolute path to an
 * executable; no shell, no PATH) with the rest split on spaces as arguments: so no word may
 * contain a space. %P is the crashing process's pid on the host, %s the signal, %t the time
 * (epoch seconds), %c its soft RLIMIT_CORE.
 */
export function handlerPattern(command: string[], spoolDir: string): string {
  const words = [...command, spoolDir];
  if (!command.length || !command[0].startsWith('/')) throw new CoreDumpError(`the core handler command must start with an absolute path: ${JSON.stringify(command)}`);
  const spaced = words.find((w) => /\s/.test(w) || w === '');
  if (spaced !== undefined) throw new CoreDumpError(`core_pattern arguments are split on spaces; cannot use ${JSON.stringify(spaced)}`);
  const pattern = `|${words.join(' ')} %P %s %t %c`;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new CoreDumpError(`core pattern ${JSON.stringify(pattern)} is ${pattern.length} characters; the kernel keeps ${MAX_PATTERN_LENGTH} (install Cairn under a shorter path)`);
  }
  return pattern;
}

/** Is this a Cairn handler pattern writing into spoolDir (ours, or another build's)? */
export function isHandlerPatternFor(pattern: string, spoolDir: string): boolean {
  return pattern.startsWith('|') && pattern.split(' ').includes(spoolDir);
}
