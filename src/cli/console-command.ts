import { startConsole } from '../console/console-server';
import { UsageError } from './cli-io';
import { clientFromFlags } from './client-flags';
import { CLIENT_FLAGS, str, type Command } from './command';

export const consoleCommand: Command = Object.freeze<Command>({
  path: ['console'],
  summary: 'a local web console on 127.0.0.1 that calls the daemon as you (like kubectl proxy); prints a one-time URL',
  usage: 'console [--port N] [--addr A --ca F --cert F --key F | --config F]',
  options: { ...CLIENT_FLAGS, port: { type: 'string' } },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const rawPort = str(values, 'port') ?? '0';
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) > 65535) throw new UsageError('--port: expected a port number 0-65535 (0: any free port)');
    const clients = clientFromFlags(values, io);
    let running;
    try {
      running = await startConsole({ clients, port: Number(rawPort) });
    } catch (err) {
      clients.close();
      // A failure (exit 1), as serve and dev: the flags were valid, the port could not be had.
      throw new Error(`cannot serve the console on 127.0.0.1:${rawPort}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    io.stdout.write(`console for your operator identity on ${running.origin} (127.0.0.1 only)\n`);
    io.stdout.write(`open this URL and press Log in: it logs one browser in, once (restart the console for a new URL):\n  ${running.loginUrl}\n`);
    io.stderr.write('press Ctrl-C to stop\n');
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await running.close();
    clients.close();
    return 0;
  },
});
