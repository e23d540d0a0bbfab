/**
 * Finding text in an asciicast v2 recording (https://docs.asciinema.org/manual/asciicast/v2/): a
 * header line, then one `[seconds, code, data]` array per line. Only output (`o`) events hold what
 * the terminal showed.
 */

/** The terminal's output as plain text, and where each output event's text starts in it. */
export interface CastText {
  /** What was printed, with escape sequences, carriage returns and other control characters taken out. */
  readonly text: string;
  /** Ascending: index in `text` where an event's characters start, and that event's time in seconds. */
  readonly starts: readonly number[];
  readonly times: readonly number[];
  /** The recording's length in seconds: its last event's time. */
  readonly duration: number;
}

export interface CastMatch {
  /** Seconds from the start of the recording when the match began to be printed. */
  readonly time: number;
  /** The match with a little of the text around it, on one line. */
  readonly context: string;
}

/** At most this many matches are listed: a common word in a long session would swamp the page. */
export const MAX_MATCHES = 500;

/** Characters of text shown on each side of a match. */
const CONTEXT = 24;

const ESC = '\u001b';
const BEL = '\u0007';

/**
 * The printed text of a recording. Escape sequences are dropped by a small state machine over the
 * whole output rather than per event, since the device may split a sequence across two writes:
 * CSI (`ESC [` … final byte @–~), OSC (`ESC ]` … BEL or `ESC \`), charset selections (`ESC (` and
 * one more character) and other two-character escapes. Lines that do not parse are skipped, as
 * the player skips them.
 */
export function castText(cast: string): CastText {
  const pieces: string[] = [];
  const starts: number[] = [];
  const times: number[] = [];
  let length = 0;
  let duration = 0;
  let state: 'text' | 'escape' | 'csi' | 'osc' | 'osc-escape' | 'charset' = 'text';
  for (const line of cast.split('\n').slice(1)) {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (!Array.isArray(event) || typeof event[0] !== 'number') continue;
    duration = Math.max(duration, event[0]);
    if (event[1] !== 'o' || typeof event[2] !== 'string') continue;
    starts.push(length);
    times.push(event[0]);
    let kept = '';
    for (const ch of event[2]) {
      if (state === 'text') {
        if (ch === ESC) state = 'escape';
        else if (ch === '\n' || ch === '\t' || ch >= ' ') kept += ch;
      } else if (state === 'escape') state = ch === '[' ? 'csi' : ch === ']' ? 'osc' : '()*+'.includes(ch) ? 'charset' : 'text';
      else if (state === 'csi') {
        if (ch >= '@' && ch <= '~') state = 'text';
      } else if (state === 'osc') {
        if (ch === BEL) state = 'text';
        else if (ch === ESC) state = 'osc-escape';
      } else state = 'text';
    }
    pieces.push(kept);
    length += kept.length;
  }
  return { text: pieces.join(''), starts, times, duration };
}

/** The time of the event that printed the character at `index`. */
function timeAt(cast: CastText, index: number): number {
  let low = 0;
  let high = cast.starts.length - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((cast.starts[middle] ?? 0) <= index) low = middle;
    else high = middle - 1;
  }
  return cast.times[low] ?? 0;
}

/** Each place `query` was printed, case-insensitively, in order, at most MAX_MATCHES. */
export function findInCast(cast: CastText, query: string, lowerText = cast.text.toLowerCase()): CastMatch[] {
  const needle = query.toLowerCase();
  if (!needle.trim()) return [];
  const matches: CastMatch[] = [];
  for (let at = lowerText.indexOf(needle); at !== -1 && matches.length < MAX_MATCHES; at = lowerText.indexOf(needle, at + needle.length)) {
    const start = Math.max(0, at - CONTEXT);
    const end = Math.min(cast.text.length, at + needle.length + CONTEXT);
    const context = `${start > 0 ? '…' : ''}${cast.text.slice(start, end)}${end < cast.text.length ? '…' : ''}`.replace(/\s+/g, ' ').trim();
    matches.push({ time: timeAt(cast, at), context });
  }
  return matches;
}
