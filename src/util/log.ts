/** Structured logs: one JSON object per line on stderr (DESIGN: logs are JSON lines). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
/** One entry for a function-style logger (the client library's Logger, see client/log.ts). */
export type LogEntry = { level: LogLevel; msg: string; [field: string]: unknown };

/** An entry as its JSON line, time first: the one line format of every Cairn log. */
export const formatLogLine = (entry: LogFields): string => `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class Logger {
  constructor(
    private readonly component: string,
    private readonly minLevel: LogLevel = (process.env.CAIRN_LOG_LEVEL as LogLevel) || 'info',
    private readonly sink: (line: string) => void = (l) => process.stderr.write(l),
  ) {}

  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`, this.minLevel, this.sink);
  }

  log(level: LogLevel, msg: string, fields?: LogFields) {
    if (order[level] < order[this.minLevel]) return;
    this.sink(formatLogLine({ level, component: this.component, msg, ...fields }));
  }

  /** This logger in the client library's function style, for controllers, informers and the simulator. */
  readonly clientLogger = ({ level, msg, ...fields }: LogEntry): void => this.log(level, msg, fields);

  debug(msg: string, fields?: LogFields) {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields) {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields) {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields) {
    this.log('error', msg, fields);
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
