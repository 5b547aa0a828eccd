/**
 * `cairn encryption rotate-key`: puts a new key first in DATA/encryption.json (the older keys
 * stay, so existing values still decrypt). The server encrypts with it from its next start and
 * then rewrites values stored under older keys; once every server sharing the store has
 * restarted, older keys may be removed from the file.
 */
import { join } from 'node:path';
import { ENCRYPTION_CONFIG_FILE, EncryptionConfigError, rotateEncryptionKey } from '../../store/encryption.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

export const encryptionCommand: Command = {
  name: 'encryption',
  summary: 'manage the keys that encrypt Secrets at rest',
  usage: [
    'usage: cairn encryption rotate-key [--data-dir DIR]',
    '',
    `  rotate-key       add a new key in front of ${ENCRYPTION_CONFIG_FILE}; restart the server to re-encrypt with it`,
    '  --data-dir DIR   the server data directory (default /var/lib/cairn)',
  ].join('\n'),
  options: { 'data-dir': { type: 'string' } },
  async run(v, positionals) {
    const [sub, ...extra] = positionals;
    if (sub !== 'rotate-key') throw new CliError(sub ? `unknown subcommand "encryption ${sub}"; run 'cairn encryption --help'` : "missing subcommand; run 'cairn encryption --help'", 2);
    if (extra.length) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
    const dataDir = (v['data-dir'] as string | undefined) ?? '/var/lib/cairn';
    try {
      const key = await rotateEncryptionKey(dataDir);
      process.stderr.write(`added key "${key.name}" first in ${join(dataDir, ENCRYPTION_CONFIG_FILE)}; restart the server to re-encrypt stored values with it\n`);
    } catch (e) {
      if (e instanceof EncryptionConfigError) throw new CliError(e.message);
      throw e;
    }
    return 0;
  },
};
