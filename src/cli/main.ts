/**
 * The `cairn` command. Each subcommand is a module under commands/; errors reach the user as one
 * line on stderr (never a stack trace).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';
import { serverCommand } from './commands/server.js';
import { controllersCommand } from './commands/controllers.js';
import { versionCommand } from './commands/version.js';
import { userCommand } from './commands/user.js';
import { encryptionCommand } from './commands/encryption.js';
import { simCommand } from './commands/sim.js';
import { imageCommand } from './commands/image.js';
import { agentCommand } from './commands/agent.js';
import { upCommand } from './commands/up.js';
import { downCommand } from './commands/down.js';
import { statusCommand } from './commands/status.js';
import { fabricCommand } from './commands/fabric.js';
import { dnsCommand } from './commands/dns.js';
import { traceCommand } from './commands/trace.js';
import { vmCommand } from './commands/vm.js';
import { cephCommand } from './commands/ceph.js';
import { cdiImportCommand } from './commands/cdi-import.js';
import { cdiUploadServerCommand } from './commands/cdi-upload-server.js';
import { cdiCloneSourceCommand } from './commands/cdi-clone-source.js';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Left out of `cairn --help` (entrypoints of Cairn's own pods). */
  hidden?: boolean;
  run(values: Record<string, string | boolean | (string | boolean)[] | undefined>, positionals: string[]): Promise<number | void>;
}

const commands: Command[] = [upCommand, downCommand, statusCommand, serverCommand, controllersCommand, agentCommand, simCommand, versionCommand, userCommand, encryptionCommand, imageCommand, fabricCommand, dnsCommand, traceCommand, cephCommand, vmCommand, cdiImportCommand, cdiUploadServerCommand, cdiCloneSourceCommand];

function usage(): string {
  const lines = ['usage: cairn <command> [options]', '', 'commands:'];
  for (const c of commands.filter((c) => !c.hidden)) lines.push(`  ${c.name.padEnd(12)} ${c.summary}`);
  lines.push('', "run 'cairn <command> --help' for a command's options");
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) throw new CliError(`unknown command "${name}"; run 'cairn --help' for the list`, 2);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]}; run 'cairn ${cmd.name} --help'`, 2);
  }
  return (await cmd.run(parsed.values, parsed.positionals)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof CliError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
      if (process.env.CAIRN_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
      process.exitCode = 1;
    }
  },
);
