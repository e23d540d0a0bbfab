/**
 * Rebuilds a line from the keys typed on it, applying the editing keys readline applies in its
 * default (emacs) mode: what a shell ran when the terminal echoed nothing (`stty -echo`). Keys
 * whose effect depends on what only the shell knows (Tab completion, history with the arrows or
 * Ctrl-R, vi mode) make the line unknowable: the result is then undefined, never a guess.
 *
 * Handled: printable characters; Backspace (DEL, Ctrl-H); Ctrl-D and Delete (the character under
 * the cursor); Ctrl-A/Home, Ctrl-E/End, Ctrl-B/Left, Ctrl-F/Right; Alt-B and Alt-F (words);
 * Ctrl-U, Ctrl-K, Ctrl-W, Alt-D, Alt-Backspace (kills, consecutive ones gathered as readline does);
 * Ctrl-Y (yank the last kill); Ctrl-T (transpose); Ctrl-L (redraw: nothing).
 *
 * @example
 * rebuildFromKeys('echo twx\x7fo') // 'echo two'
 * rebuildFromKeys('ls\t')          // undefined: completion
 */
export function rebuildFromKeys(keys: string): string | undefined {
  const line = new EditedLine();
  let k = 0;
  while (k < keys.length) {
    const ch = keys.charAt(k);
    if (ch === '\x1b') {
      const sequence = escapeSequence(keys, k);
      if (sequence === undefined || !line.escape(sequence)) return undefined;
      k += sequence.length;
      continue;
    }
    if (!line.key(ch)) return undefined;
    k++;
  }
  return line.text;
}

/** The escape sequence starting at `from`: CSI (`ESC [`), SS3 (`ESC O`), or ESC and one character (Alt-key). */
function escapeSequence(keys: string, from: number): string | undefined {
  const next = keys.charAt(from + 1);
  if (next === '') return undefined; // a bare Escape: vi mode, or a prefix we cannot finish
  if (next === '[') {
    for (let k = from + 2; k < keys.length; k++) {
      const code = keys.charCodeAt(k);
      if (code >= 0x40 && code <= 0x7e) return keys.slice(from, k + 1);
    }
    return undefined;
  }
  if (next === 'O') return keys.length > from + 2 ? keys.slice(from, from + 3) : undefined;
  return keys.slice(from, from + 2);
}

const HOME = new Set(['\x1b[H', '\x1bOH', '\x1b[1~', '\x1b[7~']);
const END = new Set(['\x1b[F', '\x1bOF', '\x1b[4~', '\x1b[8~']);
const LEFT = new Set(['\x1b[D', '\x1bOD']);
const RIGHT = new Set(['\x1b[C', '\x1bOC']);

class EditedLine {
  private chars: string[] = [];
  private cursor = 0;
  private killed = '';
  /** The last key was a kill: the next kill adds to the same text, as readline's kill ring does. */
  private killing = false;

  get text(): string {
    return this.chars.join('');
  }

  key(ch: string): boolean {
    const wasKilling = this.killing;
    this.killing = false;
    const code = ch.charCodeAt(0);
    if (code >= 0x20 && code !== 0x7f) {
      this.chars.splice(this.cursor++, 0, ch);
      return true;
    }
    switch (ch) {
      case '\x7f':
      case '\x08':
        if (this.cursor > 0) this.chars.splice(--this.cursor, 1);
        return true;
      case '\x04':
        this.chars.splice(this.cursor, 1);
        return true;
      case '\x01':
        this.cursor = 0;
        return true;
      case '\x05':
        this.cursor = this.chars.length;
        return true;
      case '\x02':
        this.cursor = Math.max(0, this.cursor - 1);
        return true;
      case '\x06':
        this.cursor = Math.min(this.chars.length, this.cursor + 1);
        return true;
      case '\x15':
        return this.kill(0, this.cursor, wasKilling);
      case '\x0b':
        return this.kill(this.cursor, this.chars.length, wasKilling);
      case '\x17': {
        let start = this.cursor;
        while (start > 0 && /\s/.test(this.chars[start - 1] ?? '')) start--;
        while (start > 0 && !/\s/.test(this.chars[start - 1] ?? '')) start--;
        return this.kill(start, this.cursor, wasKilling);
      }
      case '\x19':
        // readline's kill ring outlives the line: text killed on an earlier line is not in these keys.
        if (this.killed === '') return false;
        this.chars.splice(this.cursor, 0, ...this.killed);
        this.cursor += [...this.killed].length;
        return true;
      case '\x14': {
        if (this.chars.length < 2 || this.cursor === 0) return true;
        const at = this.cursor === this.chars.length ? this.cursor - 1 : this.cursor;
        const [a, b] = [this.chars[at - 1] as string, this.chars[at] as string];
        this.chars[at - 1] = b;
        this.chars[at] = a;
        this.cursor = at + 1;
        return true;
      }
      case '\x0c':
        this.killing = wasKilling;
        return true;
      default:
        return false; // Tab, Ctrl-R, Ctrl-P/N, Ctrl-X…: the shell's answer is not in the keys
    }
  }

  escape(sequence: string): boolean {
    const wasKilling = this.killing;
    this.killing = false;
    if (HOME.has(sequence)) this.cursor = 0;
    else if (END.has(sequence)) this.cursor = this.chars.length;
    else if (LEFT.has(sequence)) this.cursor = Math.max(0, this.cursor - 1);
    else if (RIGHT.has(sequence)) this.cursor = Math.min(this.chars.length, this.cursor + 1);
    else if (sequence === '\x1b[3~') this.chars.splice(this.cursor, 1);
    else if (sequence === '\x1bb' || sequence === '\x1bB') this.cursor = this.wordStart();
    else if (sequence === '\x1bf' || sequence === '\x1bF') this.cursor = this.wordEnd();
    else if (sequence === '\x1bd' || sequence === '\x1bD') return this.kill(this.cursor, this.wordEnd(), wasKilling);
    else if (sequence === '\x1b\x7f' || sequence === '\x1b\x08') return this.kill(this.wordStart(), this.cursor, wasKilling);
    else return false;
    return true;
  }

  /** Readline's words are letters and digits. */
  private wordStart(): number {
    let at = this.cursor;
    while (at > 0 && !isWordChar(this.chars[at - 1])) at--;
    while (at > 0 && isWordChar(this.chars[at - 1])) at--;
    return at;
  }

  private wordEnd(): number {
    let at = this.cursor;
    while (at < this.chars.length && !isWordChar(this.chars[at])) at++;
    while (at < this.chars.length && isWordChar(this.chars[at])) at++;
    return at;
  }

  private kill(from: number, to: number, adding: boolean): true {
    const text = this.chars.splice(from, to - from).join('');
    const backwards = from < this.cursor;
    this.killed = adding ? (backwards ? text + this.killed : this.killed + text) : text;
    this.cursor = from;
    this.killing = true;
    return true;
  }
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}
