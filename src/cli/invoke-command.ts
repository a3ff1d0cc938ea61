import { readFileSync } from 'node:fs';
import { jsonToStruct } from '../broker/struct';
import { call } from '../client/grpc-client';
import type { InvokeResponse__Output } from '../gen/secretbroker/v1/InvokeResponse';
import { EXIT, UsageError, emit } from './cli-io';
import { clientFromFlags, parseParams, rpcError } from './client-flags';
import { CLIENT_FLAGS, list, str, type Command } from './command';

function pairs(values: string[], sep: string, flag: string): Array<{ name: string; value: string }> {
  return values.map((v) => {
    const i = v.indexOf(sep);
    if (i <= 0) throw new UsageError(`--${flag}: expected name${sep}value, got ${JSON.stringify(v.slice(0, 40))}`);
    return { name: v.slice(0, i).trim(), value: v.slice(i + 1).trim() };
  });
}

export const invokeCommand: Command = Object.freeze<Command>({
  path: ['invoke'],
  summary: 'have the broker perform a brokered HTTP call (under a lease, or one-shot)',
  usage: 'invoke (--lease ID | ACTION [RESOURCE] [--param k=v]...) --method M --path P [--query k=v]... [--header k:v]... [--body TEXT | --body-file F]',
  options: {
    ...CLIENT_FLAGS,
    lease: { type: 'string' },
    param: { type: 'string', multiple: true },
    'params-json': { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    query: { type: 'string', multiple: true },
    header: { type: 'string', multiple: true },
    body: { type: 'string' },
    'body-file': { type: 'string' },
    purpose: { type: 'string' },
  },
  positionals: [0, 2],
  async run(values, pos, io) {
    const leaseId = str(values, 'lease') ?? '';
    // RESOURCE is optional: the broker renders it from the call; a stated one must match.
    if (!leaseId && pos.length === 0) throw new UsageError('give --lease ID, or ACTION [RESOURCE] for a one-shot call');
    if (leaseId && pos.length) throw new UsageError('with --lease, give no ACTION or RESOURCE');
    const method = (str(values, 'method') ?? 'GET').toUpperCase();
    const p = str(values, 'path');
    if (!p) throw new UsageError('--path is required, e.g. /tickets/T-1');
    if (values['body'] !== undefined && values['body-file'] !== undefined) throw new UsageError('give --body or --body-file, not both');
    const bodyFile = str(values, 'body-file');
    const body = bodyFile ? readFileSync(bodyFile) : Buffer.from(str(values, 'body') ?? '');
    const headers = pairs(list(values, 'header'), ':', 'header');
    if (body.length && !headers.some((h) => h.name.toLowerCase() === 'content-type') && /^\s*[{[]/.test(body.toString('utf8', 0, 64))) {
      headers.push({ name: 'content-type', value: 'application/json' });
    }
    const c = clientFromFlags(values, io);
    try {
      let res: InvokeResponse__Output;
      try {
        res = await call<unknown, InvokeResponse__Output>(c.agent, 'Invoke', {
          leaseId,
          action: pos[0] ?? '',
          resource: pos[1] ?? '',
          params: jsonToStruct(parseParams(list(values, 'param'), str(values, 'params-json'))),
          method,
          path: p,
          query: pairs(list(values, 'query'), '=', 'query'),
          headers,
          body,
          purpose: str(values, 'purpose') ?? '',
        });
      } catch (err) {
        const e = rpcError(err);
        const detail = (e as { detail?: unknown }).detail;
        if (detail && !values.json) io.stdout.write(JSON.stringify(detail, null, 2) + '\n');
        throw e;
      }
      const text = res.body.toString('utf8');
      const printable = Buffer.from(text, 'utf8').equals(res.body);
      emit(
        io,
        values.json === true,
        { status_code: res.statusCode, headers: res.headers, ...(printable ? { body: text } : { body_base64: res.body.toString('base64') }), lease_id: res.leaseId, uses_left: res.usesLeft, evidence: res.evidence },
        () => [`HTTP ${res.statusCode}`, ...res.headers.map((h) => `${h.name}: ${h.value}`), '', printable ? text : `(${res.body.length} bytes of binary body; use --json)`].join('\n'),
      );
      return EXIT.ok;
    } finally {
      c.close();
    }
  },
});
