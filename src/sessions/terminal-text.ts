/** What a terminal output stream holds once its escape sequences are interpreted away. */
export interface TerminalTextSink {
  /** Printable characters. */
  print(text: string): void;
  control(code: '\n' | '\r' | '\b' | '\t'): void;
  /** `CSI K` family: 0 erases from the cursor to the end of the line, 1 to its start, 2 all of it. */
  eraseLine(mode: 0 | 1 | 2): void;
  /** DECSET/DECRST 47, 1047 or 1049: full-screen programs (vim, less, top) switch screens. */
  alternateScreen(active: boolean): void;
  /** DECSET/DECRST 2004: readline turns bracketed paste on at its prompt, off once it accepts a line. */
  bracketedPaste(active: boolean): void;
  /** FinalTerm shell integration, `OSC 133 ; A|B|C|D [; status]`: prompt, input, output, done. */
  shellMark(mark: string, exitStatus: number | null): void;
}

type State = 'ground' | 'escape' | 'escapeIntermediate' | 'csi' | 'osc' | 'string';

const ESC = 0x1b;
const BEL = 0x07;
const MAX_PARAMS = 64;
const MAX_OSC = 512;
const ALTERNATE_SCREEN_MODES = new Set(['47', '1047', '1049']);

/**
 * A streaming reader of terminal output (ECMA-48 / VT500 syntax as xterm parses it, after Paul
 * Flo Williams' state diagram, https://vt100.net/emu/dec_ansi_parser): CSI, OSC, DCS/SOS/PM/APC
 * strings and two-byte escapes are dropped, except the few that matter for text; a sequence cut
 * across chunks is completed by the next `feed`. C1 controls as characters (U+0080–U+009F) are
 * honoured the same way.
 */
export class TerminalTextDecoder {
  private state: State = 'ground';
  private params = '';
  private osc = '';
  private stringEscape = false;

  /** Not inside an escape sequence: the next character is text or starts a new sequence. */
  get idle(): boolean {
    return this.state === 'ground';
  }

  feed(data: string, sink: TerminalTextSink): void {
    // The start of the run of printable characters not yet printed. No closure to print it: this
    // runs for every piece of output, and tsx wraps each closure made in `__name`, which is slow.
    let runStart = -1;
    for (let k = 0; k < data.length; k++) {
      const code = data.charCodeAt(k);
      if (this.state === 'ground') {
        if (code >= 0x20 && code !== 0x7f && (code < 0x80 || code > 0x9f)) {
          if (runStart === -1) runStart = k;
          continue;
        }
        if (runStart !== -1) sink.print(data.slice(runStart, k));
        runStart = -1;
        if (code === 0x0a) sink.control('\n');
        else if (code === 0x0d) sink.control('\r');
        else if (code === 0x08) sink.control('\b');
        else if (code === 0x09) sink.control('\t');
        else if (code === ESC) this.state = 'escape';
        else if (code === 0x9b) this.enter('csi');
        else if (code === 0x9d) this.enter('osc');
        else if (code === 0x90 || code === 0x98 || code === 0x9e || code === 0x9f) this.enter('string');
        continue;
      }
      if (code === 0x18 || code === 0x1a) {
        this.state = 'ground'; // CAN and SUB cancel any sequence
        continue;
      }
      switch (this.state) {
        case 'escape':
          if (code === 0x5b) this.enter('csi');
          else if (code === 0x5d) this.enter('osc');
          else if (code === 0x50 || code === 0x58 || code === 0x5e || code === 0x5f) this.enter('string');
          else if (code >= 0x20 && code <= 0x2f) this.state = 'escapeIntermediate';
          else if (code >= 0x30 && code <= 0x7e) this.state = 'ground';
          break;
        case 'escapeIntermediate':
          if (code >= 0x30 && code <= 0x7e) this.state = 'ground';
          else if (code === ESC) this.state = 'escape';
          break;
        case 'csi':
          if (code >= 0x30 && code <= 0x3f) {
            if (this.params.length < MAX_PARAMS) this.params += data.charAt(k);
          } else if (code >= 0x40 && code <= 0x7e) {
            this.state = 'ground';
            this.csi(data.charAt(k), sink);
          } else if (code === ESC) {
            this.state = 'escape';
          }
          break;
        case 'osc':
        case 'string':
          if (this.stringEscape) {
            this.stringEscape = false;
            if (code === 0x5c) {
              this.endString(sink);
              break;
            }
          }
          if (code === BEL || code === 0x9c) this.endString(sink);
          else if (code === ESC) this.stringEscape = true;
          else if (this.state === 'osc' && this.osc.length < MAX_OSC) this.osc += data.charAt(k);
          break;
      }
    }
    if (runStart !== -1) sink.print(data.slice(runStart));
  }

  private enter(state: 'csi' | 'osc' | 'string'): void {
    this.state = state;
    this.params = '';
    this.osc = '';
    this.stringEscape = false;
  }

  private endString(sink: TerminalTextSink): void {
    if (this.state === 'osc') {
      const match = /^133;([A-Z])(?:;(-?\d+))?/.exec(this.osc);
      if (match) sink.shellMark(match[1] ?? '', exitStatusOf(match[2]));
    }
    this.state = 'ground';
  }

  private csi(final: string, sink: TerminalTextSink): void {
    if ((final === 'h' || final === 'l') && this.params.startsWith('?')) {
      const modes = this.params.slice(1).split(';');
      if (modes.some((mode) => ALTERNATE_SCREEN_MODES.has(mode))) sink.alternateScreen(final === 'h');
      if (modes.includes('2004')) sink.bracketedPaste(final === 'h');
    } else if (final === 'K') {
      const mode = this.params === '' ? 0 : Number(this.params);
      if (mode === 0 || mode === 1 || mode === 2) sink.eraseLine(mode);
    }
  }
}

/** The status of `OSC 133;D;<status>` when it is one a process can exit with (a 32-bit integer), else unknown. */
function exitStatusOf(digits: string | undefined): number | null {
  if (digits === undefined) return null;
  const status = Number(digits);
  return Number.isInteger(status) && status >= -0x80000000 && status <= 0x7fffffff ? status : null;
}

/**
 * Plain text as a line printer would keep it, at most `maxBytes` bytes of UTF-8: a carriage
 * return or backspace moves back on the current line and later characters overwrite it (so a
 * progress bar leaves its last state), a line feed ends the line; nothing else moves the cursor.
 */
export class PlainText {
  private done = '';
  private doneBytes = 0;
  private line = '';
  private column = 0;
  private cut = false;

  constructor(private readonly maxBytes: number) {}

  /** It has reached `maxBytes` and keeps nothing more: further output cannot change `text`. */
  get full(): boolean {
    return this.cut;
  }

  /** Everything beyond `maxBytes` was dropped. */
  get truncated(): boolean {
    return this.cut || this.doneBytes + Buffer.byteLength(this.line) > this.maxBytes;
  }

  /** The text so far, `\n` between lines. */
  get text(): string {
    const room = this.maxBytes - this.doneBytes;
    return this.done + (this.line.length * 3 <= room ? this.line : truncateUtf8(this.line, room));
  }

  print(text: string): void {
    if (this.cut) return;
    if (this.column === this.line.length) this.line += text;
    else this.line = this.line.slice(0, this.column) + text + this.line.slice(this.column + text.length);
    this.column += text.length;
    // A string's length never exceeds its UTF-8 size, so this catches a runaway line cheaply.
    if (this.doneBytes + this.line.length > this.maxBytes) {
      this.line = truncateUtf8(this.line, this.maxBytes - this.doneBytes);
      this.column = Math.min(this.column, this.line.length);
      this.cut = true;
    }
  }

  control(code: '\n' | '\r' | '\b' | '\t'): void {
    if (code === '\t') this.print('\t');
    else if (code === '\r') this.column = 0;
    else if (code === '\b') this.column = Math.max(0, this.column - 1);
    else this.endLine();
  }

  eraseLine(mode: 0 | 1 | 2): void {
    if (this.cut) return;
    if (mode === 0) this.line = this.line.slice(0, this.column);
    else if (mode === 1) this.line = ' '.repeat(this.column) + this.line.slice(this.column);
    else this.line = ' '.repeat(this.column);
  }

  /** Removes `suffix` from the end of the current line, if it ends so (a prompt after the output). */
  removeFromCurrentLine(suffix: string): void {
    const line = this.line.trimEnd();
    const end = suffix.trimEnd();
    if (end !== '' && line.endsWith(end)) {
      this.line = line.slice(0, line.length - end.length);
      this.column = this.line.length;
    }
  }

  /**
   * Cuts the text at the first line that begins with `prefix` (the lines after go too), keeping the
   * first `keep` characters of that line.
   */
  cutAtLineStartingWith(prefix: string, keep = 0): void {
    for (let start = 0; start < this.done.length; ) {
      if (this.done.startsWith(prefix, start)) {
        this.done = this.done.slice(0, start + keep);
        this.doneBytes = Buffer.byteLength(this.done);
        this.line = '';
        this.column = 0;
        return;
      }
      const end = this.done.indexOf('\n', start);
      if (end === -1) return; // cut at maxBytes mid-line: the rest was never kept
      start = end + 1;
    }
    if (this.line.startsWith(prefix)) {
      this.line = this.line.slice(0, keep);
      this.column = keep;
    }
  }

  /** Removes the first whole line that is `text` (the terminal's echo of a line typed ahead). */
  removeLine(text: string): void {
    const line = `${text}\n`;
    const at = this.done.startsWith(line) ? 0 : this.done.indexOf(`\n${line}`) + 1;
    if (at === 0 && !this.done.startsWith(line)) return;
    this.done = this.done.slice(0, at) + this.done.slice(at + line.length);
    this.doneBytes = Buffer.byteLength(this.done);
  }

  /** If the last line starts with `prefix` (a secret prompt), keeps only `prefix` of it: the echo goes. */
  redactLastLine(prefix: string): void {
    if (this.line !== '') {
      if (this.line.startsWith(prefix)) this.line = prefix;
      this.column = Math.min(this.column, this.line.length);
      return;
    }
    const ended = this.done.endsWith('\n');
    const body = ended ? this.done.slice(0, -1) : this.done;
    const start = body.lastIndexOf('\n') + 1;
    if (body.startsWith(prefix, start)) {
      this.done = `${body.slice(0, start)}${prefix}${ended ? '\n' : ''}`;
      this.doneBytes = Buffer.byteLength(this.done);
    }
  }

  private endLine(): void {
    if (this.cut) return;
    const line = `${this.line}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.doneBytes + bytes > this.maxBytes) {
      this.done += truncateUtf8(line, this.maxBytes - this.doneBytes);
      this.doneBytes = Buffer.byteLength(this.done);
      this.cut = true;
    } else {
      this.done += line;
      this.doneBytes += bytes;
    }
    this.line = '';
    this.column = 0;
  }
}

/** The longest prefix of `text` that fits in `bytes` bytes of UTF-8, never half a character. */
function truncateUtf8(text: string, bytes: number): string {
  if (bytes <= 0) return '';
  if (Buffer.byteLength(text) <= bytes) return text;
  const cut = Buffer.from(text, 'utf8').subarray(0, bytes).toString('utf8');
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
}

/** Terminal output as plain text (escape sequences dropped), capped at `maxBytes`. */
export function plainText(data: string, maxBytes: number): { text: string; truncated: boolean } {
  const text = new PlainText(maxBytes);
  new TerminalTextDecoder().feed(data, {
    print: (run) => text.print(run),
    control: (code) => text.control(code),
    eraseLine: (mode) => text.eraseLine(mode),
    alternateScreen: () => undefined,
    bracketedPaste: () => undefined,
    shellMark: () => undefined,
  });
  return { text: text.text, truncated: text.truncated };
}
