/** Structured logging for the client library: one JSON object per line (DESIGN: logs are JSON lines). */
export type Logger = (entry: { level: 'debug' | 'info' | 'warn' | 'error'; msg: string; [field: string]: unknown }) => void;

export const stderrLogger: Logger = (entry) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
};

export const silentLogger: Logger = () => {};

export { errorText } from '../util/log.js';
