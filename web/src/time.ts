/** Times as the signed-in user reads them: in their own time zone (their profile's), in their browser's language. */
export function formatTime(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** The offset of `timeZone` from UTC at `utc`, in milliseconds. */
function offsetAt(utc: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(utc))
      .map((part) => [part.type, part.value]),
  );
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - Math.floor(utc / 1000) * 1000;
}

/** An instant as a wall time in `timeZone`, to the minute: `2026-12-02T14:30`. */
export function toWallTime(iso: string, timeZone: string): string {
  const utc = new Date(iso).getTime();
  return new Date(utc + offsetAt(utc, timeZone)).toISOString().slice(0, 16);
}

/** The instant a wall time (`2026-12-02T14:30`) means in `timeZone`, as ISO 8601; undefined when empty or not a time. */
export function fromWallTime(wall: string, timeZone: string): string | undefined {
  const asUtc = Date.parse(`${wall}:00Z`);
  if (!wall || Number.isNaN(asUtc)) return undefined;
  // The offset at the guess, then at the corrected instant (they differ across a change of daylight saving time).
  let utc = asUtc - offsetAt(asUtc, timeZone);
  utc = asUtc - offsetAt(utc, timeZone);
  return new Date(utc).toISOString();
}
