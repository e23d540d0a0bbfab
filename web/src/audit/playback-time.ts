/** Moments of a recording as a user reads and links them: `mm:ss`, or `h:mm:ss` past an hour. */

const pad = (n: number) => String(n).padStart(2, '0');

/** Seconds from the start of a recording as `mm:ss` (`h:mm:ss` past an hour), rounded down. */
export function formatOffset(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(whole % 60)}` : `${pad(minutes)}:${pad(whole % 60)}`;
}

/** `mm:ss`, `h:mm:ss` or plain seconds (`75`, `75.5`) as seconds; undefined when it is none of these. */
export function parseOffset(text: string): number | undefined {
  if (!/^\d+(?::\d{1,2}){0,2}(?:\.\d+)?$/.test(text)) return undefined;
  const seconds = text.split(':').reduce((total, part) => total * 60 + Number(part), 0);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** The moment a video link names in its fragment, `#t=01:05`; undefined without one. */
export function offsetOfHash(hash: string): number | undefined {
  const value = new URLSearchParams(hash.replace(/^#/, '')).get('t');
  return value === null ? undefined : parseOffset(value);
}

/** The fragment of a link to a moment of the video: `t=01:05`. */
export function hashOfOffset(seconds: number): string {
  return `t=${formatOffset(seconds)}`;
}

/** How long a session lasted, as a person says it: `45 s`, `3 min 05 s`, `2 h 04 min`. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
}

/** An instant to the second, in the user's time zone: the time of a command. */
export function formatInstant(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
}
