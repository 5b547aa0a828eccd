/**
 * The executable the kernel runs for a crash (core_pattern `|node core-handler-cli.js <spool>
 * %P %s %t %c`): a separate small entry point rather than a `cairn` subcommand, so a crash costs
 * a Node start with only node: built-ins loaded, not the whole CLI. Always exits 0.
 */
import { handleCore } from './core-handler.js';

handleCore(process.argv.slice(2));
