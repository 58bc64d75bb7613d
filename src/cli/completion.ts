/**
 * `kiln completion bash|zsh|fish`: a shell completion script built from the commander program itself, so it
 * offers exactly the commands, subcommands, options and argument choices the CLI has today. Every shell gets
 * the same two tables (what may follow a command path, which options it takes) and a few lines that find the
 * command path among the words typed so far.
 */
import { Argument, type Command } from 'commander';

/** What completes after one command path (e.g. "images ls"). */
interface Node {
  path: string;
  /** Subcommand names, then argument choices (e.g. bash, zsh, fish). */
  words: string[];
  /** Long and short option flags, hidden ones left out. */
  options: string[];
}

/** The program's command tree, depth first, hidden commands and options left out. */
export function completionTree(program: Command): Node[] {
  const nodes: Node[] = [];
  const walk = (command: Command, path: string) => {
    const help = command.createHelp();
    // visibleCommands leaves hidden ones out and adds the implicit `help` command, which completes too.
    const visible = help.visibleCommands(command);
    const options = help.visibleOptions(command).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
    const choices = command.registeredArguments.flatMap((a) => a.argChoices ?? []);
    nodes.push({ path, words: [...visible.flatMap((c) => [c.name(), ...c.aliases()]), ...choices], options });
    for (const c of visible) walk(c, path === '' ? c.name() : `${path} ${c.name()}`);
  };
  walk(program, '');
  return nodes;
}

/** Single-quoted: bash, zsh and fish all read '…' literally and '\'' as a quote (names hold no backslash). */
function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** A `case` statement for bash/zsh printing the value of `field` for the path in $1. */
function shCase(fn: string, nodes: Node[], field: 'words' | 'options'): string {
  const arms = nodes.map((n) => `    ${quote(n.path)}) echo ${quote(n[field].join(' '))} ;;`).join('\n');
  return `${fn}() {\n  case "$1" in\n${arms}\n  esac\n}`;
}

function bash(name: string, nodes: Node[]): string {
  const fn = `_${name}`;
  return `# ${name} completion for bash: source <(${name} completion bash)
${shCase(`${fn}_words`, nodes, 'words')}
${shCase(`${fn}_options`, nodes, 'options')}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ " $(${fn}_words "$cmdpath") " == *" $w "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$w"; fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(${fn}_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(${fn}_words "$cmdpath")" -- "$cur"))
    if [[ \${#COMPREPLY[@]} -eq 0 ]]; then COMPREPLY=($(compgen -f -- "$cur")); fi
  fi
}
complete -o filenames -F ${fn} ${name}
`;
}

function zsh(name: string, nodes: Node[]): string {
  const fn = `_${name}`;
  // $path is zsh's PATH array: the command path is kept in cmdpath.
  return `#compdef ${name}
# ${name} completion for zsh: source <(${name} completion zsh), or save as _${name} in a directory of $fpath
${shCase(`${fn}_words`, nodes, 'words')}
${shCase(`${fn}_options`, nodes, 'options')}
${fn}() {
  local cmdpath="" w i
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    if [[ " $(${fn}_words "$cmdpath") " == *" $w "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$w"; fi
  done
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- \${=$(${fn}_options "$cmdpath")}
  else
    local next="$(${fn}_words "$cmdpath")"
    if [[ -n "$next" ]]; then compadd -- \${=next}; else _files; fi
  fi
}
compdef ${fn} ${name}
`;
}

function fish(name: string, nodes: Node[]): string {
  const fn = `__${name}`;
  const table = (field: 'words' | 'options') =>
    nodes
      .filter((n) => n[field].length > 0)
      .map((n) => `    case ${quote(n.path)}\n      printf '%s\\n' ${n[field].map(quote).join(' ')}`)
      .join('\n');
  return `# ${name} completion for fish: ${name} completion fish | source
function ${fn}_words
  switch "$argv[1]"
${table('words')}
  end
end
function ${fn}_options
  switch "$argv[1]"
${table('options')}
  end
end
function ${fn}_path
  set -l cmdpath ''
  for w in (commandline -opc)[2..-1]
    if contains -- $w (${fn}_words "$cmdpath")
      set cmdpath (string trim -- "$cmdpath $w")
    end
  end
  echo $cmdpath
end
complete -c ${name} -n 'not string match -q -- "-*" (commandline -ct)' -a '(${fn}_words (${fn}_path))'
complete -c ${name} -f -n 'string match -q -- "-*" (commandline -ct)' -a '(${fn}_options (${fn}_path))'
`;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** The completion script of `program` for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  const nodes = completionTree(program);
  return { bash, zsh, fish }[shell](program.name(), nodes);
}

/** Adds `kiln completion` to the CLI; the script is made from `program` when the command runs. */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script, e.g. source <(kiln completion bash)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
