import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../platform/logger.ts';

/** What the publisher logged, as text: to show what an operator reads, and what they never do. */
export function capturedLogger() {
  const lines: string[] = [];
  // Kept as each line is written, so a test reads it as soon as the publisher returns.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('trace', sink), text: () => lines.join('\n') };
}

/** A witness on a loopback port: keeps what it was sent, and answers as told. */
export async function startWitness(answer: (note: string) => { status: number; body: string }) {
  const received: Array<{ contentType: string | undefined; body: string }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ contentType: request.headers['content-type'], body });
      const reply = answer(body);
      response.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/add-checkpoint`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
