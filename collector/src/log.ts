import { pino, type Logger as Pino } from 'pino';
import { redactor } from './redact.js';

/** Log lines: JSON (pino) on stdout, one line each, every known secret replaced before a line is written. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** The lowest level written (LOG_LEVEL; default info). */
  level?: LogLevel;
  /** Lines for people (`12:04:05 INFO msg key=value`) instead of JSON: when stdout is a terminal. */
  pretty?: boolean;
}

/** A JSON log line as a person reads it: time, level, message, then the fields. */
export function prettyLine(json: string): string {
  try {
    const { time, level, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
    const rest = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${String(time).slice(11, 19)} ${String(level).toUpperCase().padEnd(5)} ${String(msg)}${rest ? `  ${rest}` : ''}`;
  } catch {
    return json;
  }
}

export function createLogger(
  secrets: readonly string[] = [],
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  opts: LoggerOptions = {},
): Logger {
  const redact = redactor(secrets);
  const destination = {
    write(line: string) {
      const safe = redact(line.trimEnd());
      out(opts.pretty ? prettyLine(safe) : safe);
    },
  };
  const p: Pino = pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : e) },
    },
    destination,
  );
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
  };
}
