/**
 * Structured logging for the client library: a plain function taking one entry, written as one
 * JSON object per line (DESIGN: logs are JSON lines). The server's Logger class (util/log.ts)
 * shares the line format and hands out such a function as `logger.clientLogger`.
 */
import { formatLogLine, type LogEntry } from '../util/log.js';

export type Logger = (entry: LogEntry) => void;

export const stderrLogger: Logger = (entry) => {
  process.stderr.write(formatLogLine(entry));
};

export const silentLogger: Logger = () => {};

export { errorText } from '../util/log.js';
