/**
 * Bash's history expansion (`!!`, `!$`, `!-2`, `!prefix`, `^old^new`) runs another line than the
 * one typed, and bash prints the line it runs before running it. These read that echo: the
 * command the shell ran, kept beside what was typed.
 */

/**
 * The parts of a typed line outside its history designators, when it has any: `sudo !! --now`
 * gives `['sudo ', ' --now']`; a quick substitution (`^old^new`) gives `[]`. Undefined when bash
 * would expand nothing: no `!` that starts an event (not before a blank, `=` or `(`, nor quoted by
 * `'` or a backslash, nor at the end).
 */
export function historyDesignators(typed: string): string[] | undefined {
  if (typed.startsWith('^')) return [];
  const literals: string[] = [];
  let literal = '';
  let quote: "'" | '"' | undefined;
  let found = false;
  for (let k = 0; k < typed.length; k += 1) {
    const ch = typed[k] as string;
    if (quote === "'") {
      literal += ch;
      if (ch === "'") quote = undefined;
      continue;
    }
    if (ch === '\\') {
      literal += typed.slice(k, k + 2);
      k += 1;
      continue;
    }
    if (ch === "'" && !quote) quote = "'";
    else if (ch === '"') quote = quote === '"' ? undefined : '"';
    const next = typed[k + 1];
    if (ch === '!' && next !== undefined && !/[\s=(]/.test(next) && !(quote === '"' && next === '"')) {
      found = true;
      literals.push(literal);
      literal = '';
      k = designatorEnd(typed, k) - 1;
      continue;
    }
    literal += ch;
  }
  literals.push(literal);
  return found ? literals : undefined;
}

/** Where the event designator starting at `start` (a `!`) and its word designators and modifiers end. */
function designatorEnd(typed: string, start: number): number {
  let k = start + 1;
  const ch = typed[k];
  if (ch === '!' || ch === '$' || ch === '^' || ch === '*') k += 1;
  else if (ch === '#') k += 1;
  else if (ch === '?') {
    const close = typed.indexOf('?', k + 1);
    k = close < 0 ? typed.length : close + 1;
  } else if (ch === '-' || /\d/.test(ch ?? '')) {
    k += 1;
    while (/\d/.test(typed[k] ?? '')) k += 1;
  } else {
    // !prefix: up to a blank, a colon or the end.
    while (k < typed.length && !/[\s:;&|<>()"']/.test(typed[k] as string)) k += 1;
  }
  // Word designators and modifiers: `:1`, `:$`, `:h`, `:s/a/b/`, `:gs/a/b/`…
  while (typed[k] === ':') {
    const rest = typed.slice(k + 1);
    const substitution = /^g?s(.)/.exec(rest);
    if (substitution) {
      const separator = substitution[1] as string;
      let end = k + 1 + substitution[0].length;
      for (let parts = 0; parts < 2 && end <= typed.length; parts += 1) {
        const at = typed.indexOf(separator, end);
        end = at < 0 ? typed.length : at + 1;
      }
      k = end;
    } else {
      const word = /^(\d+(-\d*)?|[$^*%]|-\d+|[htrepqx&])/.exec(rest);
      if (!word) break;
      k += 1 + word[0].length;
    }
  }
  return k;
}

/**
 * The command bash ran for `typed`, read from the first line of its output, or undefined when the
 * line was not expanded: no designator, nothing echoed (`histverify` puts the line back to edit),
 * an error (`event not found`, `bad word specifier`…, which runs nothing), or a first line that
 * does not keep the typed line's text outside its designators, in order: then it is the output of
 * a line bash did not expand (`set +H`), not an echo.
 */
export function expandedCommand(typed: string, output: string): { text: string; output: string } | undefined {
  const literals = historyDesignators(typed);
  if (!literals) return undefined;
  const newline = output.indexOf('\n');
  if (newline <= 0) return undefined;
  const echoed = output.slice(0, newline);
  if (echoed === typed || /^[-\w./]*: .*(event not found|bad word specifier|substitution failed|no previous substitution|unrecognized history modifier)$/.test(echoed)) return undefined;
  if (!keepsInOrder(echoed, literals)) return undefined;
  // A quick substitution's echo holds its replacement; `^a^b: command not found` is bash without history expansion.
  const replacement = /^\^[^^]*\^([^^]*)/.exec(typed)?.[1];
  if (typed.startsWith('^') && ((replacement && !echoed.includes(replacement)) || echoed.includes(typed))) return undefined;
  return { text: echoed, output: output.slice(newline + 1) };
}

/** `text` starts with the first literal, ends with the last, and holds the others between, in order. */
function keepsInOrder(text: string, literals: readonly string[]): boolean {
  if (literals.length === 0) return true;
  const first = literals[0] as string;
  const last = literals[literals.length - 1] as string;
  if (!text.startsWith(first)) return false;
  let at = first.length;
  for (const literal of literals.slice(1, -1)) {
    const found = text.indexOf(literal, at);
    if (found < 0) return false;
    at = found + literal.length;
  }
  return literals.length === 1 || (text.length - last.length >= at && text.endsWith(last));
}
