/** Held plain output is cut down to its last lines once it grows past this. */
const TRIM_HELD_BYTES = 64 * 1024;
/** Held output without enough line breaks to cut is given to the emulator past this. */
const MAX_HELD_BYTES = 1024 * 1024;

const CRLF = Buffer.from('\r\n');

/**
 * Output that only prints and scrolls: no control character that changes the terminal's state
 * (SO and SI switch character sets), no escape sequence but colours (`CSI … m`) and erasing in
 * the line (`CSI … K`), and no C1 control written as a character (U+0080–U+009F, UTF-8 C2 80–9F).
 */
export function isPlainOutput(data: Buffer): boolean {
  if (data.includes(0x0e) || data.includes(0x0f)) return false;
  for (let at = data.indexOf(0xc2); at !== -1; at = data.indexOf(0xc2, at + 1)) {
    const next = data[at + 1];
    if (next === undefined || (next >= 0x80 && next <= 0x9f)) return false;
  }
  for (let at = data.indexOf(0x1b); at !== -1; at = data.indexOf(0x1b, at + 1)) {
    if (data[at + 1] !== 0x5b) return false;
    let k = at + 2;
    while (k < data.length && (data[k] as number) >= 0x30 && (data[k] as number) <= 0x3b) k++;
    if (data[k] !== 0x6d && data[k] !== 0x4b) return false;
    at = k;
  }
  return true;
}

/** Where the last `lines` lines of `data` start (just after a "\r\n"); -1 if it has fewer line breaks. */
function startOfLastLines(data: Buffer, lines: number): number {
  let at = data.length;
  for (let k = 0; k < lines; k++) {
    at = at === 0 ? -1 : data.lastIndexOf(CRLF, at - 1);
    if (at === -1) return -1;
  }
  return at + CRLF.length;
}

/**
 * Bulk output held back from the terminal emulator: plain output (see `isPlainOutput`) only
 * prints and scrolls, so once nothing reads the screen in the meantime only its last lines can
 * matter. It keeps those (cutting at line breaks once it holds `TRIM_HELD_BYTES`), so that a
 * command printing gigabytes costs the emulator a screenful.
 */
export class BulkOutputHolder {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private heldSkipped = false;
  private skipped = 0;

  /** Bytes held now. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Bytes dropped so far because only the last lines could matter. */
  get skippedBytes(): number {
    return this.skipped;
  }

  /**
   * Holds plain output, keeping only its last `lines` lines. Returns true when what it holds must
   * be taken now: too much without enough line breaks to cut.
   */
  hold(data: Buffer, lines: number): boolean {
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes < TRIM_HELD_BYTES) return false;
    const all = Buffer.concat(this.held, this.heldBytes);
    const start = startOfLastLines(all, lines);
    if (start === -1) {
      this.held = [all];
      return this.heldBytes > MAX_HELD_BYTES;
    }
    this.held = [all.subarray(start)];
    this.heldBytes = all.length - start;
    this.heldSkipped = true;
    this.skipped += start;
    return false;
  }

  /**
   * Takes what is held, emptying the holder. `skipped`: output was dropped before it, so a
   * character cut at its start belongs to what was dropped.
   */
  take(): { data: Buffer; skipped: boolean } {
    const data = this.held.length === 1 ? (this.held[0] as Buffer) : Buffer.concat(this.held, this.heldBytes);
    const skipped = this.heldSkipped;
    this.held = [];
    this.heldBytes = 0;
    this.heldSkipped = false;
    return { data, skipped };
  }
}
