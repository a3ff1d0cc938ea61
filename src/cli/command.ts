import type { ParseArgsConfig } from 'node:util';
import type { CliIo } from './cli-io';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  /** e.g. ['config', 'check'] */
  path: readonly string[];
  summary: string;
  usage: string;
  options: Options;
  /** Number of positional arguments allowed: [min, max]. */
  positionals?: [number, number];
  run(values: Values, positionals: string[], io: CliIo): Promise<number>;
}

export const JSON_FLAG: Options = Object.freeze<Options>({ json: { type: 'boolean' } });

export const CLIENT_FLAGS: Options = Object.freeze<Options>({
  addr: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
});

export const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
export const list = (v: Values, k: string): string[] => (Array.isArray(v[k]) ? (v[k] as string[]) : typeof v[k] === 'string' ? [v[k] as string] : []);
