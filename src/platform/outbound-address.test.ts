import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundAddresses, type Resolver } from './outbound-address.ts';
import { postOutbound } from './outbound-request.ts';

/** A resolver that knows a few names, as a test's DNS. */
const zone = (names: Record<string, readonly string[]>): Resolver => async (name) => {
  const addresses = names[name];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return addresses;
};

describe('the addresses webhooks may reach', () => {
  const policy = new OutboundAddresses({ allow: [], resolve: zone({}) });

  it.each([
    ['127.0.0.1', '127.0.0.1 is loopback'],
    ['127.8.9.10', '127.8.9.10 is loopback'],
    ['::1', '::1 is loopback'],
    ['10.0.0.1', '10.0.0.1 is private (RFC 1918)'],
    ['172.16.5.4', '172.16.5.4 is private (RFC 1918)'],
    ['192.168.1.1', '192.168.1.1 is private (RFC 1918)'],
    ['169.254.169.254', '169.254.169.254 is link-local (cloud metadata services live there)'],
    ['fe80::1', 'fe80::1 is link-local (cloud metadata services live there)'],
    ['fd00:ec2::254', 'fd00:ec2::254 is unique-local (fc00::/7)'],
    ['100.100.100.200', '100.100.100.200 is carrier-grade NAT (100.64.0.0/10, where some cloud metadata services live)'],
    ['224.0.0.1', '224.0.0.1 is multicast'],
    ['ff02::1', 'ff02::1 is multicast'],
    ['0.0.0.0', '0.0.0.0 is unspecified'],
    ['::', ':: is unspecified'],
    ['255.255.255.255', '255.255.255.255 is the broadcast address'],
    ['240.0.0.1', '240.0.0.1 is reserved'],
    ['192.0.2.10', '192.0.2.10 is reserved'],
    ['::ffff:127.0.0.1', '127.0.0.1 is loopback'],
    ['::ffff:a9fe:a9fe', '169.254.169.254 is link-local (cloud metadata services live there)'],
    ['64:ff9b::a00:1', '64:ff9b::a00:1 is NAT64 (it embeds an IPv4 address)'],
    ['2002:7f00:1::', '2002:7f00:1:: is 6to4 (it embeds an IPv4 address)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:0:4136:e378:8000:63bf:3fff:fdd2 is Teredo (it embeds an IPv4 address)'],
    ['4000::1', '4000::1 is not a global unicast address'],
  ])('refuses %s', (address, reason) => {
    expect(policy.refusal(address)).toBe(reason);
  });

  it.each(['93.184.215.14', '1.1.1.1', '8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4007:80e::200e'])('allows the public address %s', (address) => {
    expect(policy.refusal(address)).toBeUndefined();
  });

  it('allows what an administrator listed, and only that', () => {
    const allowing = new OutboundAddresses({ allow: ['10.20.0.0/16', '127.0.0.1/32', '::1/128'], resolve: zone({}) });
    expect([allowing.refusal('10.20.3.4'), allowing.refusal('127.0.0.1'), allowing.refusal('::ffff:127.0.0.1'), allowing.refusal('::1')]).toEqual([undefined, undefined, undefined, undefined]);
    expect(allowing.refusal('10.21.0.1')).toBe('10.21.0.1 is private (RFC 1918)');
    expect(allowing.refusal('127.0.0.2')).toBe('127.0.0.2 is loopback');
  });

  it('checks every address a name resolves to, refuses metadata names and names that do not resolve', async () => {
    const dns = new OutboundAddresses({
      allow: [],
      resolve: zone({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'], 'split.example.com': ['93.184.215.14', '10.1.2.3'] }),
    });
    expect(await dns.check('hooks.example.com')).toEqual({ ok: true, addresses: ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] });
    expect(await dns.check('split.example.com')).toEqual({ ok: false, reason: 'split.example.com resolves to 10.1.2.3, which is private (RFC 1918)', refused: '10.1.2.3' });
    expect(await dns.check('Metadata.Google.Internal.')).toMatchObject({ ok: false, reason: 'metadata.google.internal is a cloud metadata service' });
    expect(await dns.check('nowhere.example.com')).toEqual({ ok: false, reason: 'nowhere.example.com does not resolve (name not found)' });
    expect(await dns.check('[::ffff:127.0.0.1]')).toMatchObject({ ok: false, reason: '127.0.0.1 is loopback' });
  });

  it('gives up on a name that takes too long to resolve', async () => {
    const slow = new OutboundAddresses({ allow: [], resolve: () => new Promise(() => {}), resolveTimeoutMs: 20 });
    expect(await slow.check('slow.example.com')).toEqual({ ok: false, reason: 'slow.example.com does not resolve (timed out)' });
  });
});

describe('a request through the address policy', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((request, response) => {
      requests += 1;
      response.end('internal secret: s3cr3t');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (url: string, addresses: OutboundAddresses) =>
    postOutbound({ url: new URL(url), headers: {}, body: Buffer.from('{}'), timeoutMs: 5000, maxAnswerBytes: 1000, addresses });

  it('does not connect to a refused address, whether the URL names it or a name resolves to it', async () => {
    const strict = new OutboundAddresses({ allow: [], resolve: zone({ 'inside.example.com': ['127.0.0.1'] }) });
    await expect(post(`http://127.0.0.1:${port}/`, strict)).rejects.toMatchObject({ message: 'address not allowed: 127.0.0.1 is loopback', addressRefused: true });
    await expect(post(`http://[::ffff:127.0.0.1]:${port}/`, strict)).rejects.toMatchObject({ message: 'address not allowed: 127.0.0.1 is loopback' });
    await expect(post(`http://inside.example.com:${port}/`, strict)).rejects.toMatchObject({
      message: 'address not allowed: inside.example.com resolves to 127.0.0.1, which is loopback',
      addressRefused: true,
    });
    await expect(post(`http://gone.example.com:${port}/`, strict)).rejects.toMatchObject({ message: 'gone.example.com does not resolve (name not found)', addressRefused: false });
    expect(requests).toBe(0);
  });

  it('connects to an allowed address through the checked name, and reads at most the bound of the answer', async () => {
    const allowing = new OutboundAddresses({ allow: ['127.0.0.1/32'], resolve: zone({ 'inside.example.com': ['127.0.0.1'] }) });
    const answer = await post(`http://inside.example.com:${port}/`, allowing);
    expect([answer.status, answer.body.toString()]).toEqual([200, 'internal secret: s3cr3t']);
    await expect(
      postOutbound({ url: new URL(`http://127.0.0.1:${port}/`), headers: {}, body: Buffer.from('{}'), timeoutMs: 5000, maxAnswerBytes: 10, addresses: allowing }),
    ).rejects.toMatchObject({ message: 'the answer is larger than 10 bytes' });
    expect(requests).toBe(2);
  });

  it('gives up on a server that never answers, saying so', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const allowing = new OutboundAddresses({ allow: ['127.0.0.1/32'] });
    const silentPort = (silent.address() as AddressInfo).port;
    await expect(
      postOutbound({ url: new URL(`http://127.0.0.1:${silentPort}/`), headers: {}, body: Buffer.from('{}'), timeoutMs: 200, maxAnswerBytes: 0, addresses: allowing }),
    ).rejects.toMatchObject({ message: 'timed out (no answer within 0.2 s)', addressRefused: false });
    expect(sockets).toHaveLength(1);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});
