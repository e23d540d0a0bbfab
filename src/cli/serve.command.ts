import type { Command } from 'commander';
import { VERSION } from '../platform/version.ts';
import { systemClock } from '../platform/clock.ts';
import { firstStartNotes, serveBanner } from './banner.ts';
import type { Api } from '../platform/http.ts';
import { CommandError } from './command-error.ts';
import { globalOptionsOf, loadCliConfig, type GlobalOptions } from './global-options.ts';
import { localOperator } from './open-changegate.ts';
import { printLines } from './output.ts';
import { listenForStop } from './stop-signals.ts';

interface ServeOptions {
  readonly httpPort?: string;
  readonly httpHost?: string;
}

/** `changegate serve`: runs the server until SIGINT or SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the Changegate server: the HTTP API under /api/v1 and its docs at /api/docs')
    .option('--http-port <port>', 'port to listen on, 0 for any free one (overrides CHANGEGATE_HTTP_PORT)')
    .option('--http-host <host>', 'address to listen on (overrides CHANGEGATE_HTTP_HOST)')
    .addHelpText(
      'after',
      '\nPrints the URL once listening and, on the first start only, the generated password of "admin".\n' +
        'Ctrl+C or SIGTERM drains: no new sessions start and /api/v1/health/ready answers 503, live sessions go on for\n' +
        'up to CHANGEGATE_DRAIN_SECONDS (300) and then end; requests under way finish, the database closes and it exits 0.\n' +
        'A second Ctrl+C or SIGTERM exits at once (130).',
    )
    .action((options: ServeOptions, command: Command) => serve(globalOptionsOf(command), options));
}

async function serve(globals: GlobalOptions, options: ServeOptions): Promise<void> {
  const config = loadCliConfig(globals, { httpPort: options.httpPort, httpHost: options.httpHost });
  const stop = listenForStop(() => printLines(`Stopping… no new session starts; live ones may go on for up to ${config.drainSeconds} s (Ctrl+C again to stop at once).`));
  try {
    // The server's modules load only for the command that runs it: every other command starts quickly.
    const { createChangegate } = await import('../changegate.ts');
    const { appendEvent } = await import('../eventlog/index.ts');
    const changegate = await createChangegate({ config });
    try {
      await listen(changegate.app, config.httpHost, config.httpPort);
      const address = changegate.app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.httpPort;
      const started = await changegate.startBackground({ httpPort: port });
      // Who started a server on this database, and where: the log then says under whom every later entry was written.
      await changegate.database.db.transaction().execute((trx) =>
        appendEvent(trx, { actor: localOperator(), action: 'server.start', subject: 'server', data: { version: VERSION, httpPort: port, sshPort: started.sshPort }, time: systemClock.now() }),
      );
      const notes = [
        ...firstStartNotes(changegate),
        ...(started.interruptedSessions > 0 ? [`${started.interruptedSessions} session(s) left open by a crash are now marked interrupted.`] : []),
      ];
      printLines(...serveBanner({ version: VERSION, config, port, notes, gateway: { sshPort: started.sshPort, fingerprint: started.gatewayFingerprint }, logKey: changegate.logSigningKey.verifierKey }));
      await stop.requested;
      // The load balancer sees the instance not ready and sends new connections elsewhere; its users finish or are told to reconnect.
      await changegate.drain(config.drainSeconds * 1000);
    } finally {
      await changegate.close();
    }
  } finally {
    stop.dispose();
  }
}

async function listen(app: Api, host: string, port: number): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CommandError(`Port ${port} on ${host} is in use: stop what holds it, or choose another with --http-port or CHANGEGATE_HTTP_PORT.`);
    if (code === 'EADDRNOTAVAIL') throw new CommandError(`This machine has no address ${host}: choose another with --http-host or CHANGEGATE_HTTP_HOST.`);
    throw error;
  }
}
