import ipaddr from 'ipaddr.js';

/**
 * Where a client comes from, as limits count it: an IPv4 address, or the /64 network of an IPv6
 * address (one subscriber usually holds a whole /64, so counting single IPv6 addresses would
 * count nothing). An IPv4-mapped IPv6 address is its IPv4 address.
 */
export function sourceOf(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  return networkOf(address, 64);
}

/** The network of `prefix` bits around an address, as CIDR text (`2001:db8:ab::/48`). */
export function networkOf(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string {
  const bytes = address.toByteArray();
  for (let bit = prefix; bit < bytes.length * 8; bit += 1) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
  return `${ipaddr.fromByteArray(bytes).toString()}/${prefix}`;
}
