import pino, { type Logger } from 'pino';

/** Structured JSON logs on stderr, so stdout stays free for progress. */
export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}
