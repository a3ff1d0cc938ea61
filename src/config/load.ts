import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { compileConfig } from './compile';
import type { BrokerConfig } from './config-types';
import { ConfigError } from './problems';

/** Reads a config file's text; an unreadable file is a ConfigError naming the reason. */
export function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read the config file (${code})` }]);
  }
}

/** Parses YAML strictly (duplicate keys are errors); syntax errors become a ConfigError with line and column. */
export function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(yaml)',
        message: e.message.split('\n')[0]!,
      })),
    );
  }
  return doc.toJS();
}

/** Reads, validates and compiles a YAML config file; throws ConfigError listing every problem. */
export function loadConfig(file: string): BrokerConfig {
  return parseConfigText(readConfigFile(file), file);
}

export function parseConfigText(text: string, file: string): BrokerConfig {
  return compileConfig(parseYaml(text, file), file);
}
