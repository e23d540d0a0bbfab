/** Times as the signed-in user reads them: in their own time zone (their profile's), in their browser's language. */
export function formatTime(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}
