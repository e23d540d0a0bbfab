import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
// Loads the `websocket: true` route option into Fastify's types; the plugin is registered in platform/http.ts.
import type {} from '@fastify/websocket';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import { actorOf } from '../access/index.ts';
import { type Actor } from '../access/index.ts';
import { errors, isAppError } from '../platform/errors.ts';
import type { Api } from '../platform/http.ts';
import { parseSessionTarget } from './session.ts';
import type { SessionRunner } from './session-runner.ts';
import { MAX_TERMINATION_REASON, type SessionService, type Watcher } from './session.service.ts';
import { TerminalClient } from './terminal-client.ts';
import { CommandViewSchema, SessionViewSchema } from './session.views.ts';

const SessionRef = Type.Object({ session: Type.String({ minLength: 1, maxLength: 64, description: 'The session number or id' }) });

/**
 * The WebSocket routes check the caller themselves (`actorOf` in the handler), so an anonymous one
 * gets an `unauthenticated` error message on the socket: a browser cannot read the status of a
 * refused upgrade, only that it failed. An empty `security` skips the 401 before the upgrade.
 */
const ANSWERED_ON_THE_SOCKET: [] = [];

/** Cross-site WebSocket hijacking: a browser always sends Origin; it must be this server. */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** A POST whose body is optional (the termination's reason): no body at all reads as `{}`, not 400 "must be object". */
const optionalBody = {
  preValidation: async (request: FastifyRequest) => {
    request.body ??= {};
  },
};

function closeWithError(socket: WebSocket, error: unknown): void {
  const shown = isAppError(error) ? error : errors.internal('The session failed on the server.');
  const message = { code: shown.code, message: shown.message };
  socket.send(JSON.stringify({ type: 'error', error: message }));
  socket.close(isAppError(error) ? 4000 + Math.min(error.status, 999) - 400 : 1011, message.code);
}

/** Session records, recordings, live watching and terminating, and the web terminal. */
export function sessionRoutes(app: Api, services: { sessions: SessionService; runner: SessionRunner }): void {
  const { sessions, runner } = services;
  const tags = ['sessions'];

  app.get(
    '/sessions',
    {
      schema: {
        tags,
        summary: 'Sessions: your own, and with Session.View those in its partitions',
        querystring: Type.Object(
          {
            user: Type.Optional(Type.String()),
            device: Type.Optional(Type.String()),
            change: Type.Optional(Type.String()),
            live: Type.Optional(Type.Boolean()),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
            command: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Sessions that ran a command containing this text' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(SessionViewSchema) },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      return sessions.list(actorOf(request), { ...rest, ...(from && { from: new Date(from) }), ...(to && { to: new Date(to) }) });
    },
  );

  app.get('/sessions/:session', { schema: { tags, summary: 'One session', params: SessionRef, response: { 200: SessionViewSchema } } }, async (request) =>
    sessions.get(actorOf(request), request.params.session),
  );

  app.get(
    '/sessions/:session/commands',
    { schema: { tags, summary: 'The commands captured in a session, with time, output and exit status', params: SessionRef, response: { 200: Type.Array(CommandViewSchema) } } },
    async (request) => sessions.commands(actorOf(request), request.params.session),
  );

  app.get(
    '/sessions/:session/recording',
    { schema: { tags, summary: 'The asciicast v2 recording (plays in `asciinema play`)', params: SessionRef } },
    async (request, reply) => {
      const recording = await sessions.recording(actorOf(request), request.params.session);
      void reply.header('content-type', 'application/x-asciicast');
      void reply.header('content-disposition', `attachment; filename="session-${recording.number}.cast"`);
      if (recording.sha256) void reply.header('x-recording-sha256', recording.sha256);
      return reply.send(Readable.from(recording.bytes, { objectMode: false }));
    },
  );

  app.post(
    '/sessions/:session/terminate',
    {
      ...optionalBody,
      schema: {
        tags,
        summary: 'End a running session (Session.Terminate); its user sees who ended it and why',
        description:
          'Any instance sharing the database ends it: a session another instance runs is ended there, and the answer comes once its record says so; 409 `session_elsewhere` when that instance does not end it within 10 s.',
        params: SessionRef,
        body: Type.Optional(
          Type.Object(
            {
              reason: Type.Optional(
                Type.String({
                  maxLength: MAX_TERMINATION_REASON,
                  description: "Why: shown in the user's terminal, logged with the session's end and kept with the session. One line; spaces are trimmed",
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: SessionViewSchema },
      },
    },
    async (request) => sessions.terminate(actorOf(request), request.params.session, request.body?.reason),
  );

  app.get(
    '/sessions/:session/watch',
    {
      websocket: true,
      schema: {
        tags,
        summary: 'WebSocket: the recording so far, then live (Session.Watch); one asciicast event per message',
        description:
          'Each message is an asciicast v2 event `[seconds, code, data]` (`o` output, `r` resize, `m` a captured command), or an object: ' +
          '`{"type":"progress","progress":LiveProgressView}` (the board of the device against the change\'s script, once the replay is done and after each command), ' +
          '`{"type":"end"}` when the session ends, `{"type":"error","error":{code,message}}` before the socket closes.',
        params: SessionRef,
        security: ANSWERED_ON_THE_SOCKET,
      },
    },
    (socket, request) => {
      let stop: (() => void) | undefined;
      socket.on('close', () => stop?.());
      const watcher: Watcher = {
        send: (event) => socket.send(JSON.stringify(event)),
        progress: (board) => socket.send(JSON.stringify({ type: 'progress', progress: board })),
        behindBytes: () => socket.bufferedAmount,
        drop: (why) => {
          socket.send(JSON.stringify({ type: 'error', error: { code: why.code, message: why.message } }));
          socket.close(4008, why.code);
        },
        get closed() {
          return socket.readyState !== socket.OPEN;
        },
      };
      void (async () => {
        if (!sameOrigin(request)) throw errors.forbidden('Cross-origin WebSocket refused.');
        const actor = actorOf(request);
        stop = await sessions.watch(actor, request.params.session, watcher, () => {
          socket.send(JSON.stringify({ type: 'end' }));
          socket.close(1000, 'session ended');
        });
        if (watcher.closed) stop();
      })().catch((error: unknown) => {
        if (!isAppError(error)) request.log.error({ err: error }, 'watching a session failed');
        closeWithError(socket, error);
      });
    },
  );

  app.get(
    '/terminal',
    {
      websocket: true,
      schema: {
        tags,
        summary:
          'WebSocket web terminal: the same brokered, recorded session as the gateway. Send {"type":"input","data"} and {"type":"resize","cols","rows"}; receive {"type":"output","data"} and {"type":"exit","status"}',
        security: ANSWERED_ON_THE_SOCKET,
        querystring: Type.Object(
          {
            target: Type.String({ minLength: 1, maxLength: 300, description: 'device[:account][+change], as after "you@" at the gateway' }),
            cols: Type.Integer({ minimum: 10, maximum: 1000, default: 80 }),
            rows: Type.Integer({ minimum: 5, maximum: 500, default: 24 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    (socket, request) => {
      if (!sameOrigin(request)) return closeWithError(socket, errors.forbidden('Cross-origin WebSocket refused.'));
      let actor: Actor;
      try {
        actor = actorOf(request);
      } catch (error) {
        return closeWithError(socket, error);
      }
      const { target, cols, rows } = request.query;
      const client = new WebClientSide(socket, { cols, rows, sourceIp: request.ip });
      const parsed = parseSessionTarget(`${actor.username}@${target}`);
      runner.run(client, actor, parsed).catch((error: unknown) => {
        request.log.error({ err: error }, 'web terminal session failed');
        if (!client.closed) closeWithError(socket, error);
      });
    },
  );
}

/** The user's end of a session in the browser: JSON messages over a WebSocket. */
class WebClientSide extends TerminalClient {
  constructor(
    private readonly socket: WebSocket,
    size: { cols: number; rows: number; sourceIp: string },
  ) {
    super({ kind: 'web', interactive: true, term: 'xterm-256color', cols: size.cols, rows: size.rows, sourceIp: size.sourceIp, sourcePort: null });
    socket.on('message', (raw) => {
      let message: unknown;
      try {
        message = JSON.parse(String(raw));
      } catch {
        return;
      }
      if (typeof message !== 'object' || message === null) return;
      const { type, data, cols: newCols, rows: newRows } = message as { type?: unknown; data?: unknown; cols?: unknown; rows?: unknown };
      if (type === 'input' && typeof data === 'string') this.received(Buffer.from(data, 'utf8'));
      if (type === 'resize' && Number.isInteger(newCols) && Number.isInteger(newRows)) this.resized(newCols as number, newRows as number);
    });
    socket.on('close', () => this.gone());
  }

  write(data: Buffer | string): void {
    if (!this.closed && this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify({ type: 'output', data: data.toString() }));
  }

  writeError(data: Buffer | string): void {
    this.write(data);
  }

  pauseInput(): void {
    this.socket.pause();
  }

  resumeInput(): void {
    this.socket.resume();
  }

  /** The browser reads slower than the device writes while the socket holds more than this. */
  private static readonly MAX_BUFFERED = 1024 * 1024;

  backlogged(): Promise<void> | undefined {
    if (this.closed || this.socket.bufferedAmount <= WebClientSide.MAX_BUFFERED) return undefined;
    return new Promise((resolve) => {
      const check = setInterval(() => {
        if (this.closed || this.socket.bufferedAmount <= WebClientSide.MAX_BUFFERED / 2) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
  }

  protected end(status: number | null, signal?: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify({ type: 'exit', status, ...(signal && { signal }) }));
    this.socket.close(1000, 'session ended');
  }
}
