import ipaddr from 'ipaddr.js';
import { networkOf, sourceOf } from '../platform/source-address.ts';

/** The settings of the sign-in rate limits (a part of `Config`). */
export interface SignInLimitSettings {
  /** Failed sign-ins one source address may make per window; beyond it, attempts are refused at once. */
  readonly signInLimitPerAddress: number;
  /** Failed sign-ins for one username from all addresses per window; beyond it, the username is throttled. */
  readonly signInLimitPerUser: number;
  readonly signInLimitWindowSeconds: number;
}

/** How a checked attempt ended: a failure keeps its place in the counts, the others give it back. */
export type AttemptOutcome = 'success' | 'failure' | 'neutral';

/** A checked attempt: settle it once, when its outcome is known. */
export interface AdmittedAttempt {
  readonly admitted: true;
  settle(outcome: AttemptOutcome, now: Date): void;
}

/**
 * Which limit refused: `address`, the source address (an IPv4 address or an IPv6 /64) used up its
 * failures; `network`, the wider network around it did (an IPv4 /24, an IPv6 /56 or /48);
 * `username`, this address failed too often for this username, or has an attempt at it under way.
 */
export type ThrottleLimit = 'address' | 'network' | 'username';

/** An attempt refused before any password check or database write. */
export interface RefusedAttempt {
  readonly admitted: false;
  readonly limit: ThrottleLimit;
  readonly retryAfterSeconds: number;
}

export type Admission = AdmittedAttempt | RefusedAttempt;

/** Attempts refused in one window, for one event in the log instead of one per attempt. */
export interface ThrottleReport {
  readonly limit: ThrottleLimit;
  /** The source (an IPv4 address or an IPv6 /64), the network (`198.51.100.0/24`, `2001:db8:1::/48`) or the username. */
  readonly key: string;
  /** The failures the limit allows per window. */
  readonly maxFailures: number;
  readonly refused: number;
  readonly from: Date;
  readonly until: Date;
}

/** How many sources, and usernames, are tracked at most: beyond it the oldest window is dropped (and reported). */
export const MAX_TRACKED = 50_000;
/** How many failing sources are remembered per username: beyond it the oldest is forgotten. */
export const MAX_SOURCES_PER_USERNAME = 1_000;
/** Usernames longer than a username can be are cut here (the login schema allows 200 characters). */
const MAX_USERNAME_KEY = 64;

interface Window {
  readonly start: number;
  readonly limit: ThrottleLimit;
  readonly maxFailures: number;
  refused: number;
}

interface SourceWindow extends Window {
  /** Attempts under way plus failures: an attempt takes its place when it starts. */
  counted: number;
}

interface UsernameWindow extends Window {
  failures: number;
  /** Sources that failed for this username in the window, oldest first. */
  readonly failedFrom: Set<string>;
  /** Attempts under way for this username, by source; none without any (most windows, most of the time). */
  pending: Map<string, number> | undefined;
}

/**
 * The wider networks counted beside each source, as multiples of the per-address limit: one
 * holder of an IPv6 /48 (free from tunnel brokers) has 65 536 /64s, and a /56 is what many
 * providers give one customer; an IPv4 /24 is bounded too, as a cheap brake on one holder of
 * many neighbouring addresses.
 */
export const NETWORK_LIMITS: ReadonlyArray<{ readonly kind: 'ipv4' | 'ipv6'; readonly prefix: number; readonly timesPerAddress: number }> = [
  { kind: 'ipv4', prefix: 24, timesPerAddress: 16 },
  { kind: 'ipv6', prefix: 56, timesPerAddress: 4 },
  { kind: 'ipv6', prefix: 48, timesPerAddress: 16 },
];

/** The source of an address and the wider networks counted with it, each with the failures it may make per window. */
export function signInScopes(ip: string, perAddress: number): Array<{ key: string; limit: 'address' | 'network'; maxFailures: number }> {
  const scopes: Array<{ key: string; limit: 'address' | 'network'; maxFailures: number }> = [{ key: sourceOf(ip), limit: 'address', maxFailures: perAddress }];
  if (!ipaddr.isValid(ip)) return scopes;
  const address = ipaddr.process(ip);
  for (const network of NETWORK_LIMITS) {
    if (network.kind !== address.kind()) continue;
    scopes.push({ key: networkOf(address, network.prefix), limit: 'network', maxFailures: perAddress * network.timesPerAddress });
  }
  return scopes;
}

/**
 * The sign-in rate limits, in memory, per instance. Per source: at most `signInLimitPerAddress`
 * failed sign-ins per window, and for its wider networks (`NETWORK_LIMITS`) a multiple of it; an
 * attempt is counted in each when it starts, so that parallel attempts cannot all pass before the
 * first fails, and a success or an unfinished first step gives its place back. Per username:
 * after `signInLimitPerUser` failures from all sources in the window, the username is refused to
 * the sources that already failed for it there, so that an attacker spread over many sources
 * cannot keep the real user out: a source with no failure for it still gets its attempts, one
 * under way at a time. Each window starts at its first counted attempt and lasts
 * `signInLimitWindowSeconds`. Refused attempts are only counted; `takeReports` hands out the
 * counts of closed windows, for one event per window.
 */
export class SignInLimits {
  private readonly sources = new Map<string, SourceWindow>();
  private readonly usernames = new Map<string, UsernameWindow>();
  private readonly reports: ThrottleReport[] = [];
  /** Refusals whose report did not fit in `reports`; reported together with the next ones. */
  private unreported = 0;
  private nextSweep = 0;
  private readonly windowMs: number;
  /**
   * For each map, an iterator over its entries kept from one eviction to the next. A Map deletes
   * by leaving a hole that stays until the map is next compacted, and a new iterator walks every
   * hole before the first entry: with a full map under a flood, finding the oldest entry that way
   * took longer with each eviction. A kept iterator walks each hole once. Everything before its
   * place was evicted (an entry set again moves to the end), so its next entry is the oldest.
   */
  private readonly oldestFirst = new Map<Map<string, Window>, Iterator<[string, Window]>>();

  constructor(private readonly settings: SignInLimitSettings) {
    this.windowMs = settings.signInLimitWindowSeconds * 1000;
  }

  /** Admits an attempt (counted from now on) or refuses it. */
  admit(ip: string, username: string, now: Date, options: { readonly reserve?: boolean } = {}): Admission {
    // A password check reserves its place at the start, so that parallel guesses cannot all pass
    // before the first fails. A key sign-in costs no password hash and cannot be guessed: it is
    // refused once the limits are reached, but counts only when it fails, so that a host opening
    // many sessions at once (automation) is not refused for being busy.
    const reserve = options.reserve ?? true;
    const time = now.getTime();
    this.sweep(time);
    const scopes = signInScopes(ip, this.settings.signInLimitPerAddress);
    const sourceKey = scopes[0]?.key ?? ip;
    const usernameKey = username.slice(0, MAX_USERNAME_KEY);
    const windows = scopes.map((scope) => this.current(this.sources, scope.key, time));
    for (const window of windows) {
      if (window && window.counted >= window.maxFailures) {
        window.refused += 1;
        return this.refusal(window, time);
      }
    }
    let user = this.current(this.usernames, usernameKey, time);
    if (user && user.failures >= user.maxFailures && (user.failedFrom.has(sourceKey) || user.pending?.has(sourceKey))) {
      // Throttled: a source that failed waits for the window's end, a new one tries one at a time.
      user.refused += 1;
      return this.refusal(user, time);
    }
    const count = (at: number) =>
      scopes.map((scope) => {
        let window = this.current(this.sources, scope.key, at);
        if (!window) {
          window = { start: at, limit: scope.limit, maxFailures: scope.maxFailures, counted: 0, refused: 0 };
          this.track(this.sources, scope.key, window);
        }
        window.counted += 1;
        return [scope.key, window] as const;
      });
    const counted = reserve ? count(time) : [];
    if (!user) {
      user = { start: time, limit: 'username', maxFailures: this.settings.signInLimitPerUser, failures: 0, failedFrom: new Set(), pending: undefined, refused: 0 };
      this.track(this.usernames, usernameKey, user);
    }
    user.pending ??= new Map();
    user.pending.set(sourceKey, (user.pending.get(sourceKey) ?? 0) + 1);
    const pendingIn = user;
    let settled = false;
    return {
      admitted: true,
      settle: (outcome, at) => {
        if (settled) return;
        settled = true;
        const left = (pendingIn.pending?.get(sourceKey) ?? 1) - 1;
        if (left > 0) pendingIn.pending?.set(sourceKey, left);
        else pendingIn.pending?.delete(sourceKey);
        if (pendingIn.pending?.size === 0) pendingIn.pending = undefined;
        if (outcome === 'failure') {
          if (!reserve) count(at.getTime());
          this.recordFailure(usernameKey, sourceKey, at.getTime());
        } else {
          for (const [key, window] of counted) {
            window.counted -= 1;
            // Signing in leaves nothing behind.
            if (window.counted === 0 && window.refused === 0 && this.sources.get(key) === window) this.sources.delete(key);
          }
        }
        if (pendingIn.failures === 0 && !pendingIn.pending && pendingIn.refused === 0 && this.usernames.get(usernameKey) === pendingIn) {
          this.usernames.delete(usernameKey);
        }
      },
    };
  }

  /**
   * The refusal counts of windows closed by `now` (all windows, with `all`, when the server
   * stops), each once.
   */
  takeReports(now: Date, options: { all?: boolean } = {}): ThrottleReport[] {
    const time = now.getTime();
    this.sweep(time, true);
    if (options.all) {
      for (const [key, window] of this.sources) this.close(key, window, time);
      for (const [key, window] of this.usernames) this.close(key, window, time);
      this.sources.clear();
      this.usernames.clear();
    }
    const taken = this.reports.splice(0);
    if (this.unreported > 0) {
      taken.push({ limit: 'address', key: '*', maxFailures: this.settings.signInLimitPerAddress, refused: this.unreported, from: new Date(time - this.windowMs), until: now });
      this.unreported = 0;
    }
    return taken;
  }

  /** Whether `takeReports` has something to hand out now. */
  hasReports(now: Date): boolean {
    this.sweep(now.getTime());
    return this.reports.length > 0 || this.unreported > 0;
  }

  /** What is held in memory: the sizes of its structures, for the memory bound. */
  size(): { sources: number; usernames: number; sourcesPerUsername: number; reports: number } {
    let sourcesPerUsername = 0;
    for (const window of this.usernames.values()) sourcesPerUsername = Math.max(sourcesPerUsername, window.failedFrom.size, window.pending?.size ?? 0);
    return { sources: this.sources.size, usernames: this.usernames.size, sourcesPerUsername, reports: this.reports.length };
  }

  private recordFailure(usernameKey: string, sourceKey: string, time: number): void {
    let user = this.current(this.usernames, usernameKey, time);
    if (!user) {
      user = { start: time, limit: 'username', maxFailures: this.settings.signInLimitPerUser, failures: 0, failedFrom: new Set(), pending: undefined, refused: 0 };
      this.track(this.usernames, usernameKey, user);
    }
    user.failures += 1;
    user.failedFrom.delete(sourceKey);
    user.failedFrom.add(sourceKey);
    if (user.failedFrom.size > MAX_SOURCES_PER_USERNAME) {
      const oldest = user.failedFrom.values().next().value;
      if (oldest !== undefined) user.failedFrom.delete(oldest);
    }
  }

  private refusal(window: Window, time: number): RefusedAttempt {
    return { admitted: false, limit: window.limit, retryAfterSeconds: Math.max(1, Math.ceil((window.start + this.windowMs - time) / 1000)) };
  }

  /** The open window of a key, closing (and reporting) it when it has ended. */
  private current<W extends Window>(map: Map<string, W>, key: string, time: number): W | undefined {
    const window = map.get(key);
    if (!window || time < window.start + this.windowMs) return window;
    // Attempts still under way hold the window they were counted in; the new one starts empty.
    map.delete(key);
    this.close(key, window, time);
    return undefined;
  }

  private track<W extends Window>(map: Map<string, W>, key: string, window: W): void {
    if (map.size >= MAX_TRACKED) {
      this.sweep(window.start);
      if (map.size >= MAX_TRACKED) {
        // Full of open windows: the oldest goes, its refusals reported.
        const [oldestKey, oldest] = this.oldestOf(map);
        map.delete(oldestKey);
        this.close(oldestKey, oldest, window.start);
      }
    }
    map.set(key, window);
  }

  /** The oldest entry of a map that is not empty, through its kept iterator (`oldestFirst`). */
  private oldestOf<W extends Window>(map: Map<string, W>): [string, W] {
    let next = this.oldestFirst.get(map)?.next();
    if (!next || next.done) {
      // Walked to the end (or never begun): from the start again.
      const entries = map.entries();
      this.oldestFirst.set(map, entries);
      next = entries.next();
    }
    return next.value as [string, W];
  }

  private close(key: string, window: Window, time: number): void {
    if (window.refused === 0) return;
    if (this.reports.length >= MAX_TRACKED) {
      this.unreported += window.refused;
      return;
    }
    this.reports.push({
      limit: window.limit,
      key,
      maxFailures: window.maxFailures,
      refused: window.refused,
      from: new Date(window.start),
      until: new Date(Math.min(time, window.start + this.windowMs)),
    });
  }

  /** Closes the windows that have ended, at most once a second unless forced. */
  private sweep(time: number, force = false): void {
    if (!force && time < this.nextSweep) return;
    this.nextSweep = time + 1000;
    for (const map of [this.sources, this.usernames] as Array<Map<string, Window>>) {
      for (const [key, window] of map) {
        if (time >= window.start + this.windowMs) {
          map.delete(key);
          this.close(key, window, time);
        }
      }
    }
  }
}
