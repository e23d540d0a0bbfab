import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Resolves a host name to all its addresses; tests pass their own to play DNS. */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

export interface OutboundAddressesOptions {
  /** CIDRs allowed although not public (`CHANGEGATE_WEBHOOK_ALLOW`), already validated by the configuration. */
  readonly allow: readonly string[];
  /** Default: the system's resolver (node:dns lookup, as connecting would use). */
  readonly resolve?: Resolver;
  /** Longest wait for a name to resolve. Default 5 s. */
  readonly resolveTimeoutMs?: number;
}

export type AddressCheck =
  | { readonly ok: true; readonly addresses: readonly string[] }
  /** `refused` is the address (or name) not allowed; absent when the name did not resolve at all. */
  | { readonly ok: false; readonly reason: string; readonly refused?: string };

/** Names of cloud metadata services: never a webhook's receiver. */
const METADATA_NAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.tencentyun.com',
  'metadata.oraclecloud.com',
]);

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** Thrown through a connection's lookup when a name resolves to an address that is not allowed. */
export class AddressNotAllowedError extends Error {
  readonly code = 'ERR_ADDRESS_NOT_ALLOWED';
  constructor(readonly reason: string) {
    super(`address not allowed: ${reason}`);
    this.name = 'AddressNotAllowedError';
  }
}

/** Thrown through a connection's lookup when a name does not resolve; `code` is the resolver's. */
export class NameNotResolvedError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'NameNotResolvedError';
  }
}

/**
 * Which network addresses Changegate may call on a user's behalf (webhooks): public ones only.
 *
 * An address is allowed when it is global unicast: IPv4 outside every special range ipaddr.js knows
 * (loopback, private, link-local with 169.254.169.254, carrier-grade NAT with 100.100.100.200,
 * multicast, unspecified, broadcast, reserved, documentation…), IPv6 in 2000::/3 outside the special
 * ranges (6to4, Teredo and NAT64 embed an IPv4 address that could be any of the above). An
 * IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it holds. Networks an
 * administrator lists (`CHANGEGATE_WEBHOOK_ALLOW`) are allowed whatever their range. Cloud metadata
 * names are refused by name, whatever they resolve to.
 *
 * Checking a URL once is not enough: a name can resolve to a public address when it is saved and to
 * 127.0.0.1 a minute later. `lookup` is what a request connects through, so the address checked is
 * the address connected to.
 *
 * @example
 *   const addresses = new OutboundAddresses({ allow: ['10.20.0.0/16'] });
 *   await addresses.check('hooks.example.com');   // { ok: true, addresses: ['93.184.215.14'] }
 *   await addresses.check('169.254.169.254');     // { ok: false, reason: '169.254.169.254 is link-local' … }
 *   http.request(url, { lookup: addresses.lookup });
 */
export class OutboundAddresses {
  private readonly allow: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
  private readonly resolve: Resolver;
  private readonly resolveTimeoutMs: number;

  constructor(options: OutboundAddressesOptions) {
    this.allow = options.allow.map((cidr) => ipaddr.parseCIDR(cidr));
    this.resolve = options.resolve ?? systemResolver;
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? 5000;
  }

  /** Why an IP address may not be called (`127.0.0.1 is loopback`), or undefined when it may. */
  refusal(address: string): string | undefined {
    const what = this.refusedAs(address);
    return what === undefined ? undefined : `${ipaddr.isValid(address) ? ipaddr.process(address).toString() : address} is ${what}`;
  }

  /** What an address is that makes it refused (`loopback`), or undefined when it is allowed. */
  private refusedAs(address: string): string | undefined {
    if (!ipaddr.isValid(address)) return 'not an IP address';
    const parsed = ipaddr.parse(address);
    const processed = ipaddr.process(address);
    if (this.allow.some((cidr) => inCidr(parsed, cidr) || inCidr(processed, cidr))) return undefined;
    const range = processed.range();
    if (range !== 'unicast') return RANGE_WORDS[range] ?? range;
    if (processed.kind() === 'ipv6' && !processed.match(GLOBAL_UNICAST_V6)) return 'not a global unicast address';
    return undefined;
  }

  /**
   * Resolves a host (a name, or an IP address as a URL holds it, IPv6 in brackets) and checks every
   * address it resolves to: all must be allowed, since a connection may use any of them.
   */
  async check(host: string): Promise<AddressCheck> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare)) {
      const reason = this.refusal(bare);
      return reason ? { ok: false, reason, refused: bare } : { ok: true, addresses: [bare] };
    }
    const name = bare.toLowerCase().replace(/\.$/, '');
    if (METADATA_NAMES.has(name)) return { ok: false, reason: `${name} is a cloud metadata service`, refused: name };
    let addresses: readonly string[];
    try {
      addresses = await this.resolveWithin(name);
    } catch (error) {
      return { ok: false, reason: `${name} does not resolve (${resolveFailure(error)})` };
    }
    if (addresses.length === 0) return { ok: false, reason: `${name} does not resolve (no address)` };
    for (const address of addresses) {
      const what = this.refusedAs(address);
      if (what) return { ok: false, reason: `${name} resolves to ${address}, which is ${what}`, refused: address };
    }
    return { ok: true, addresses };
  }

  /**
   * A `lookup` for node:net, node:http and node:https: resolves with this policy's resolver and hands
   * back only checked addresses, or fails with AddressNotAllowedError. (Node does not call it for a
   * host that is an IP address: check those with `check` before connecting.)
   */
  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.check(hostname).then(
      (result) => {
        if (!result.ok) {
          callback(result.refused === undefined ? new NameNotResolvedError(result.reason, 'ENOTFOUND') : new AddressNotAllowedError(result.reason), '');
          return;
        }
        const wanted = options.family === 4 || options.family === 6 ? options.family : undefined;
        const entries = result.addresses.map((address) => ({ address, family: isIP(address) })).filter((entry) => wanted === undefined || entry.family === wanted);
        const first = entries[0];
        if (!first) {
          callback(new NameNotResolvedError(`${hostname} has no IPv${wanted} address`, 'ENOTFOUND'), '');
          return;
        }
        if (options.all) callback(null, entries);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, ''),
    );
  };

  private resolveWithin(name: string): Promise<readonly string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('resolving timed out'), { code: 'ETIMEOUT' })), this.resolveTimeoutMs);
    });
    return Promise.race([this.resolve(name), timeout]).finally(() => clearTimeout(timer));
  }
}

/** ipaddr.js's range names in plain words. */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  unspecified: 'unspecified',
  broadcast: 'the broadcast address',
  multicast: 'multicast',
  linkLocal: 'link-local (cloud metadata services live there)',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10, where some cloud metadata services live)',
  private: 'private (RFC 1918)',
  reserved: 'reserved',
  uniqueLocal: 'unique-local (fc00::/7)',
  ipv4Mapped: 'an IPv4-mapped address',
  rfc6145: 'an IPv4-translated address',
  rfc6052: 'NAT64 (it embeds an IPv4 address)',
  '6to4': '6to4 (it embeds an IPv4 address)',
  teredo: 'Teredo (it embeds an IPv4 address)',
  deprecatedSiteLocal: 'site-local',
  discard: 'a discard-only address',
  benchmarking: 'for benchmarking',
};

function inCidr(address: ipaddr.IPv4 | ipaddr.IPv6, [network, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number]): boolean {
  return address.kind() === network.kind() && address.match(network, bits);
}

/** The kind of a resolver failure, never its text. */
function resolveFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME') return 'name not found';
  if (code === 'ETIMEOUT') return 'timed out';
  if (code === 'EAI_AGAIN' || code === 'ESERVFAIL') return 'name lookup failed, try again later';
  return 'name lookup failed';
}
