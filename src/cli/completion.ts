import type { Command, Option } from 'commander';
import { configKeys } from '../config/keys.js';
import { COMPONENTS } from '../config/schema.js';
import { CATALOGUE } from '../model/catalogue.js';

/**
 * Shell completion scripts for osb, generated from the commander program itself (commands,
 * flags, choices), the zod config schema (`--set` keys and their enum/boolean values) and the
 * service catalogue (`--service`, `provision`) — nothing here is a hand-kept list of them.
 */

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What a flag's value (or a command's positional arguments) completes to. */
type ValueKind = { kind: 'none' } | { kind: 'any' } | { kind: 'file' } | { kind: 'dir' } | { kind: 'set' } | { kind: 'words'; words: string[] };

interface OptionSpec {
  short?: string;
  long?: string;
  description: string;
  value: ValueKind;
}

interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  positional: ValueKind;
}

export interface CompletionModel {
  commands: CommandSpec[];
  global: OptionSpec[];
  setKeys: { key: string; values?: string[] }[];
  services: string[];
}

const SERVICES = () => Object.keys(CATALOGUE);

function optionValue(o: Option): ValueKind {
  if (!o.required && !o.optional) return { kind: 'none' };
  if (o.argChoices?.length) return { kind: 'words', words: [...o.argChoices] };
  switch (o.long) {
    case '--set':
      return { kind: 'set' };
    case '--values':
      return { kind: 'file' };
    case '--state-dir':
      return { kind: 'dir' };
    case '--service':
      return { kind: 'words', words: SERVICES() };
    default:
      return { kind: 'any' };
  }
}

function optionSpec(o: Option): OptionSpec {
  return { short: o.short, long: o.long, description: o.description, value: optionValue(o) };
}

const HELP: OptionSpec = { short: '-h', long: '--help', description: 'display help', value: { kind: 'none' } };

function positionalOf(cmd: Command, commandNames: string[]): ValueKind {
  const arg = cmd.registeredArguments[0];
  if (!arg) return { kind: 'none' };
  const name = arg.name();
  if (/^components?$/.test(name)) return { kind: 'words', words: [...COMPONENTS] };
  if (/^services?$/.test(name)) return { kind: 'words', words: SERVICES() };
  if (name === 'shell') return { kind: 'words', words: [...SHELLS] };
  if (name === 'command') return { kind: 'words', words: commandNames };
  return { kind: 'any' };
}

/** Walks the program: every command, its options and arguments, and the global options. */
export function completionModel(program: Command): CompletionModel {
  const names = program.commands.map((c) => c.name());
  const commands: CommandSpec[] = program.commands.map((c) => ({
    name: c.name(),
    description: c.description().split('\n')[0]!,
    options: [...c.options.map(optionSpec), HELP],
    positional: positionalOf(c, names),
  }));
  if (!names.includes('help'))
    commands.push({ name: 'help', description: 'display help for a command', options: [], positional: { kind: 'words', words: names } });
  return { commands, global: [...program.options.map(optionSpec), HELP], setKeys: configKeys(), services: SERVICES() };
}

const flagsOf = (o: OptionSpec) => [o.short, o.long].filter((x): x is string => !!x);
const kindWord = (v: ValueKind) => (v.kind === 'words' ? `words:${v.words.join(' ')}` : v.kind);
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** POSIX-style helper functions that bash and zsh share (same `case` syntax). */
function sharedFunctions(m: CompletionModel): string {
  const kindCases: string[] = [];
  for (const c of m.commands) {
    for (const o of c.options)
      kindCases.push(
        `    ${flagsOf(o)
          .map((f) => sq(`${c.name} ${f}`))
          .join('|')}) echo ${sq(kindWord(o.value))} ;;`,
      );
  }
  for (const o of m.global)
    kindCases.push(
      `    ${flagsOf(o)
        .map((f) => `*${sq(` ${f}`)}`)
        .join('|')}) echo ${sq(kindWord(o.value))} ;;`,
    );
  const globalFlags = m.global.flatMap(flagsOf).join(' ');
  const optionCases = m.commands.map(
    (c) => `    ${sq(c.name)}) echo ${sq([...new Set([...c.options.flatMap(flagsOf), ...m.global.flatMap(flagsOf)])].join(' '))} ;;`,
  );
  const positionalCases = m.commands
    .filter((c) => c.positional.kind === 'words')
    .map((c) => `    ${sq(c.name)}) echo ${sq((c.positional as { words: string[] }).words.join(' '))} ;;`);
  const setValueCases = m.setKeys.filter((k) => k.values).map((k) => `    ${sq(k.key)}) echo ${sq(k.values!.join(' '))} ;;`);
  return `_osb_commands=${sq(m.commands.map((c) => c.name).join(' '))}
_osb_set_keys=${sq(m.setKeys.map((k) => `${k.key}=`).join(' '))}

# _osb_option_kind COMMAND FLAG: none | any | file | dir | set | words:W1 W2 ...
_osb_option_kind() {
  case "$1 $2" in
${kindCases.join('\n')}
    *) echo none ;;
  esac
}

# _osb_options COMMAND: the flags COMMAND accepts (global ones included)
_osb_options() {
  case "$1" in
${optionCases.join('\n')}
    *) echo ${sq(globalFlags)} ;;
  esac
}

# _osb_positional COMMAND: what its arguments complete to
_osb_positional() {
  case "$1" in
${positionalCases.join('\n')}
    *) echo '' ;;
  esac
}

# _osb_set_values KEY: the values a --set KEY accepts, when they are a closed list
_osb_set_values() {
  case "$1" in
${setValueCases.join('\n')}
    *) echo '' ;;
  esac
}
`;
}

function bashScript(m: CompletionModel, version: string): string {
  return `# bash completion for osb ${version} — generated by \`osb completion bash\`.
# Install:  osb completion bash > ~/.local/share/bash-completion/completions/osb
#      or:  echo 'source <(osb completion bash)' >> ~/.bashrc
${sharedFunctions(m)}
_osb_reply() { # _osb_reply KIND CUR
  local IFS=$' \\t\\n'
  case "$1" in
    set)
      COMPREPLY=($(compgen -W "$_osb_set_keys" -- "$2"))
      compopt -o nospace 2>/dev/null ;;
    file) COMPREPLY=($(compgen -f -- "$2")); compopt -o filenames 2>/dev/null ;;
    dir) COMPREPLY=($(compgen -d -- "$2")); compopt -o filenames 2>/dev/null ;;
    words:*) COMPREPLY=($(compgen -W "\${1#words:}" -- "$2")) ;;
    *) COMPREPLY=() ;;
  esac
}

_osb() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd='' i w kind key base
  COMPREPLY=()
  # The command is the first word that is neither a flag nor a flag's value. With "=" in
  # COMP_WORDBREAKS, "--set k=v" arrives as: --set k = v.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -* ]]; then
      kind=$(_osb_option_kind "$cmd" "$w")
      if [[ $kind != none && \${COMP_WORDS[i + 1]} != = ]]; then ((i++)); fi
      while [[ \${COMP_WORDS[i + 1]} == = ]] && ((i + 1 < COMP_CWORD)); do ((i += 2)); done
    elif [[ $w != = && -z $cmd ]]; then
      cmd=$w
    fi
  done
  # After an "=": the value of --flag= or of --set key=.
  key='' base=$COMP_CWORD
  if [[ $cur == = ]]; then cur='' key=\${COMP_WORDS[COMP_CWORD - 1]} base=$((COMP_CWORD - 1))
  elif ((COMP_CWORD > 1)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then key=\${COMP_WORDS[COMP_CWORD - 2]} base=$((COMP_CWORD - 2))
  fi
  if [[ -n $key ]]; then
    if [[ $key == -* ]]; then
      _osb_reply "$(_osb_option_kind "$cmd" "$key")" "$cur"
    elif [[ \${COMP_WORDS[base - 1]} == --set || ( \${COMP_WORDS[base - 1]} == = && \${COMP_WORDS[base - 2]} == --set ) ]]; then
      _osb_reply "words:$(_osb_set_values "$key")" "$cur"
    fi
    return 0
  fi
  if ((COMP_CWORD > 1)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == -* ]]; then
    kind=$(_osb_option_kind "$cmd" "\${COMP_WORDS[COMP_CWORD - 1]}")
    if [[ $kind != none ]]; then _osb_reply "$kind" "$cur"; return 0; fi
  fi
  if [[ $cur == -* ]]; then
    _osb_reply "words:$(_osb_options "$cmd")" "$cur"
  elif [[ -z $cmd ]]; then
    _osb_reply "words:$_osb_commands" "$cur"
  else
    _osb_reply "words:$(_osb_positional "$cmd")" "$cur"
  fi
  return 0
}
complete -F _osb osb
`;
}

function zshScript(m: CompletionModel, version: string): string {
  const described = m.commands.map((c) => sq(`${c.name}:${c.description.replace(/:/g, '\\:')}`)).join(' \\\n    ');
  return `#compdef osb
# zsh completion for osb ${version} — generated by \`osb completion zsh\`.
# Install:  osb completion zsh > "\${fpath[1]}/_osb"   (then start a new shell)
#      or:  echo 'source <(osb completion zsh)' >> ~/.zshrc   (after compinit)
${sharedFunctions(m)}
_osb_zsh_reply() { # _osb_zsh_reply KIND CUR
  local key
  case "$1" in
    set)
      if [[ $2 == *=* ]]; then
        key=\${2%%=*}
        compset -P '*='
        compadd -- \${=$(_osb_set_values "$key")}
      else
        compadd -S '' -- \${=_osb_set_keys}
      fi ;;
    file) _files ;;
    dir) _files -/ ;;
    words:*) compadd -- \${=\${1#words:}} ;;
  esac
}

_osb() {
  local cur=\${words[CURRENT]} cmd='' i w kind
  local -a commands
  commands=(
    ${described}
  )
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if [[ $w == -* ]]; then
      [[ $w == *=* ]] && continue
      kind=$(_osb_option_kind "$cmd" "$w")
      [[ $kind != none ]] && ((i++))
    elif [[ -z $cmd ]]; then
      cmd=$w
    fi
  done
  if [[ $cur == -*=* ]]; then
    kind=$(_osb_option_kind "$cmd" "\${cur%%=*}")
    compset -P '*='
    _osb_zsh_reply "$kind" "$PREFIX"
    return
  fi
  if ((CURRENT > 2)) && [[ \${words[CURRENT-1]} == -* ]]; then
    kind=$(_osb_option_kind "$cmd" "\${words[CURRENT-1]}")
    if [[ $kind != none ]]; then _osb_zsh_reply "$kind" "$cur"; return; fi
  fi
  if [[ $cur == -* ]]; then
    compadd -- \${=$(_osb_options "$cmd")}
  elif [[ -z $cmd ]]; then
    _describe -t commands 'osb command' commands
  else
    _osb_zsh_reply "words:$(_osb_positional "$cmd")" "$cur"
  fi
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _osb "$@"
else
  compdef _osb osb
fi
`;
}

function fishScript(m: CompletionModel, version: string): string {
  const esc = (s: string) => sq(s.replace(/\s+/g, ' '));
  const lines: string[] = [];
  const valueArgs = (v: ValueKind): string => {
    switch (v.kind) {
      case 'none':
        return '';
      case 'file':
        return ' -r -F';
      case 'dir':
        return ` -r -x -a ${sq('(__fish_complete_directories)')}`;
      case 'set':
        return ` -r -x -a ${sq('(__osb_set_args)')}`;
      case 'words':
        return ` -r -x -a ${sq(v.words.join(' '))}`;
      default:
        return ' -r -x';
    }
  };
  const optLine = (o: OptionSpec, cond?: string) => {
    const flags = [o.short ? ` -s ${o.short.slice(1)}` : '', o.long ? ` -l ${o.long.slice(2)}` : ''].join('');
    return `complete -c osb${cond ? ` -n ${sq(cond)}` : ''}${flags}${valueArgs(o.value)} -d ${esc(o.description)}`;
  };
  const globalValueFlags = m.global.filter((o) => o.value.kind !== 'none').flatMap(flagsOf);
  lines.push(`# fish completion for osb ${version} — generated by \`osb completion fish\`.
# Install:  osb completion fish > ~/.config/fish/completions/osb.fish
complete -c osb -f

# The command word typed so far (the first word that is neither a flag nor a global flag's value).
function __osb_cmd
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case ${globalValueFlags.map(sq).join(' ')}
                set skip 1
            case '-*'
            case '*'
                echo $t
                return 0
        end
    end
    return 1
end

function __osb_using
    test "$(__osb_cmd)" = "$argv[1]"
end

# --set KEY= (keys from the config schema), then KEY=VALUE for keys with a closed list of values.
function __osb_set_args
    set -l cur (commandline -ct)
    if string match -q -- '*=*' $cur
        set -l key (string split -m1 = -- $cur)[1]
        switch $key
${m.setKeys
  .filter((k) => k.values)
  .map((k) => `            case ${sq(k.key)}\n                printf '%s\\n' ${k.values!.map((v) => sq(`${k.key}=${v}`)).join(' ')}`)
  .join('\n')}
        end
    else
        printf '%s\\n' ${m.setKeys.map((k) => sq(`${k.key}=`)).join(' ')}
    end
end
`);
  for (const c of m.commands) lines.push(`complete -c osb -n 'not __osb_cmd' -a ${sq(c.name)} -d ${esc(c.description)}`);
  for (const o of m.global) lines.push(optLine(o));
  for (const c of m.commands) {
    const cond = `__osb_using ${c.name}`;
    for (const o of c.options) if (o !== HELP) lines.push(optLine(o, cond));
    if (c.positional.kind === 'words') lines.push(`complete -c osb -n ${sq(cond)} -a ${sq(c.positional.words.join(' '))}`);
  }
  return lines.join('\n') + '\n';
}

export function completionScript(shell: Shell, program: Command): string {
  const m = completionModel(program);
  const version = program.version() ?? '';
  if (shell === 'bash') return bashScript(m, version);
  if (shell === 'zsh') return zshScript(m, version);
  return fishScript(m, version);
}
