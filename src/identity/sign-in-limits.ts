import ipaddr from 'ipaddr.js';

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

/** An attempt refused before any password check or database write. */
export interface RefusedAttempt {
  readonly admitted: false;
  /** `address`: the source address used up its failures; `username`: this address failed too often for this username. */
  readonly limit: 'address' | 'username';
  readonly retryAfterSeconds: number;
}

export type Admission = AdmittedAttempt | RefusedAttempt;

/** Attempts refused in one window, for one event in the log instead of one per attempt. */
export interface ThrottleReport {
  readonly limit: 'address' | 'username';
  /** The source (an IPv4 address or an IPv6 /64) or the username. */
  readonly key: string;
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

interface SourceWindow {
  readonly start: number;
  /** Attempts under way plus failures: an attempt takes its place when it starts. */
  counted: number;
  refused: number;
}

interface UsernameWindow {
  readonly start: number;
  failures: number;
  /** Sources that failed for this username in the window, oldest first. */
  readonly failedFrom: Set<string>;
  refused: number;
}

/**
 * What the rate limits count by: an IPv4 address, or the /64 network of an IPv6 address (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
export function signInSource(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}

/**
 * The sign-in rate limits, in memory, per instance. Per source: at most `signInLimitPerAddress`
 * failed sign-ins per window; an attempt is counted when it starts, so that parallel attempts
 * cannot all pass before the first fails, and a success or an unfinished first step gives its
 * place back. Per username: after `signInLimitPerUser` failures from all sources in the window,
 * the username is refused to the sources that already failed for it there, so that an attacker
 * spread over many sources cannot keep the real user out: a source with no failure for it still
 * gets its attempts. Each window starts at its first counted attempt and lasts
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

  constructor(private readonly settings: SignInLimitSettings) {
    this.windowMs = settings.signInLimitWindowSeconds * 1000;
  }

  /** Admits an attempt (counted from now on) or refuses it. */
  admit(ip: string, username: string, now: Date): Admission {
    const time = now.getTime();
    this.sweep(time);
    const sourceKey = signInSource(ip);
    const usernameKey = username.slice(0, MAX_USERNAME_KEY);
    let source = this.current(this.sources, 'address', sourceKey, time);
    if (source && source.counted >= this.settings.signInLimitPerAddress) {
      source.refused += 1;
      return this.refusal('address', source.start, time);
    }
    const user = this.current(this.usernames, 'username', usernameKey, time);
    if (user && user.failures >= this.settings.signInLimitPerUser && user.failedFrom.has(sourceKey)) {
      user.refused += 1;
      return this.refusal('username', user.start, time);
    }
    if (!source) {
      source = { start: time, counted: 0, refused: 0 };
      this.track(this.sources, sourceKey, source, 'address');
    }
    source.counted += 1;
    const window = source;
    let settled = false;
    return {
      admitted: true,
      settle: (outcome, at) => {
        if (settled) return;
        settled = true;
        if (outcome === 'failure') {
          this.recordFailure(usernameKey, sourceKey, at.getTime());
          return;
        }
        window.counted -= 1;
        // Signing in leaves nothing behind.
        if (window.counted === 0 && window.refused === 0 && this.sources.get(sourceKey) === window) this.sources.delete(sourceKey);
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
      for (const [key, window] of this.sources) this.close('address', key, window, time);
      for (const [key, window] of this.usernames) this.close('username', key, window, time);
      this.sources.clear();
      this.usernames.clear();
    }
    const taken = this.reports.splice(0);
    if (this.unreported > 0) {
      taken.push({ limit: 'address', key: '*', refused: this.unreported, from: new Date(time - this.windowMs), until: now });
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
    for (const window of this.usernames.values()) sourcesPerUsername = Math.max(sourcesPerUsername, window.failedFrom.size);
    return { sources: this.sources.size, usernames: this.usernames.size, sourcesPerUsername, reports: this.reports.length };
  }

  private recordFailure(usernameKey: string, sourceKey: string, time: number): void {
    let user = this.current(this.usernames, 'username', usernameKey, time);
    if (!user) {
      user = { start: time, failures: 0, failedFrom: new Set(), refused: 0 };
      this.track(this.usernames, usernameKey, user, 'username');
    }
    user.failures += 1;
    user.failedFrom.delete(sourceKey);
    user.failedFrom.add(sourceKey);
    if (user.failedFrom.size > MAX_SOURCES_PER_USERNAME) {
      const oldest = user.failedFrom.values().next().value;
      if (oldest !== undefined) user.failedFrom.delete(oldest);
    }
  }

  private refusal(limit: 'address' | 'username', start: number, time: number): RefusedAttempt {
    return { admitted: false, limit, retryAfterSeconds: Math.max(1, Math.ceil((start + this.windowMs - time) / 1000)) };
  }

  /** The open window of a key, closing (and reporting) it when it has ended. */
  private current<W extends SourceWindow | UsernameWindow>(map: Map<string, W>, limit: 'address' | 'username', key: string, time: number): W | undefined {
    const window = map.get(key);
    if (!window || time < window.start + this.windowMs) return window;
    // Attempts still under way hold the window they were counted in; the new one starts empty.
    map.delete(key);
    this.close(limit, key, window, time);
    return undefined;
  }

  private track<W extends SourceWindow | UsernameWindow>(map: Map<string, W>, key: string, window: W, limit: 'address' | 'username'): void {
    if (map.size >= MAX_TRACKED) {
      this.sweep(window.start);
      if (map.size >= MAX_TRACKED) {
        // Full of open windows: the oldest goes, its refusals reported.
        const [oldestKey, oldest] = map.entries().next().value as [string, W];
        map.delete(oldestKey);
        this.close(limit, oldestKey, oldest, window.start);
      }
    }
    map.set(key, window);
  }

  private close(limit: 'address' | 'username', key: string, window: SourceWindow | UsernameWindow, time: number): void {
    if (window.refused === 0) return;
    if (this.reports.length >= MAX_TRACKED) {
      this.unreported += window.refused;
      return;
    }
    this.reports.push({ limit, key, refused: window.refused, from: new Date(window.start), until: new Date(Math.min(time, window.start + this.windowMs)) });
  }

  /** Closes the windows that have ended, at most once a second unless forced. */
  private sweep(time: number, force = false): void {
    if (!force && time < this.nextSweep) return;
    this.nextSweep = time + 1000;
    for (const [key, window] of this.sources) {
      if (time >= window.start + this.windowMs) {
        this.sources.delete(key);
        this.close('address', key, window, time);
      }
    }
    for (const [key, window] of this.usernames) {
      if (time >= window.start + this.windowMs) {
        this.usernames.delete(key);
        this.close('username', key, window, time);
      }
    }
  }
}
