import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { completionScript } from '../../src/cli/completion.js';
import { configKeys } from '../../src/config/keys.js';
import { CATALOGUE } from '../../src/model/catalogue.js';

/**
 * `osb completion bash|zsh|fish`: the scripts are loaded into the real shells. Bash's completion
 * function is driven the way readline drives it (COMP_WORDS/COMP_CWORD, with "=" split off as
 * bash's COMP_WORDBREAKS does); fish answers `complete -C`; zsh parses the script (zsh -n).
 */
const dir = mkdtempSync(join(tmpdir(), 'osb-test-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = (shell: 'bash' | 'zsh' | 'fish') => {
  const file = join(dir, `osb.${shell}`);
  writeFileSync(file, completionScript(shell, buildProgram()));
  return file;
};

/** COMPREPLY of the bash completion function for the words typed (the last one is being completed). */
function bashComplete(...words: string[]): string[] {
  const file = script('bash');
  const program = `source ${JSON.stringify(file)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
COMP_LINE=${JSON.stringify(words.join(' '))}
_osb
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', program], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('osb completion bash (a real bash drives the completion function)', () => {
  it('registers itself for osb', () => {
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source ${script('bash')}; complete -p osb`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('complete -F _osb osb');
  });

  it('completes commands: "osb dep" offers deploy (and deprovision), "osb deplo" is deploy', () => {
    expect(bashComplete('osb', 'dep')).toEqual(['deploy', 'deprovision']);
    expect(bashComplete('osb', 'deplo')).toEqual(['deploy']);
    expect(bashComplete('osb', 'doc')).toEqual(['doctor']);
    expect(bashComplete('osb', 'compl')).toEqual(['completion']);
  });

  it('completes --set keys from the config schema: "--set rabbitmq.rep" → rabbitmq.replicas=', () => {
    expect(bashComplete('osb', 'deploy', '--set', 'rabbitmq.rep')).toEqual(['rabbitmq.replicas=']);
    expect(bashComplete('osb', '--set', 'rabbitmq.rep')).toEqual(['rabbitmq.replicas=']);
    // "--set=KEY" arrives as --set = KEY.
    expect(bashComplete('osb', '--set', '=', 'rabbitmq.rep')).toEqual(['rabbitmq.replicas=']);
    // Every leaf of the schema is offered, nested ones included.
    const all = bashComplete('osb', '--set', '');
    expect(all).toEqual(configKeys().map((k) => `${k.key}=`));
    expect(all).toContain('mariadb.volume.storageClass=');
    // Enum values after "KEY=" (bash splits "=" off).
    expect(bashComplete('osb', '--set', 'rabbitmq.partitionHandling', '=', '')).toEqual(['pause_minority', 'autoheal']);
    expect(bashComplete('osb', '--set', 'target', '=', 'k')).toEqual(['kubernetes']);
  });

  it('completes --service with the catalogue names', () => {
    expect(bashComplete('osb', 'endpoints', '--service', '')).toEqual(Object.keys(CATALOGUE));
    expect(bashComplete('osb', 'endpoints', '--service', 'n')).toEqual(Object.keys(CATALOGUE).filter((s) => s.startsWith('n')));
    expect(bashComplete('osb', 'provision', 'ke')).toEqual(['keystone']);
  });

  it('completes components, flags, flag choices and files, past global flags and their values', () => {
    expect(bashComplete('osb', 'deploy', 'm')).toEqual(['mariadb', 'memcached']);
    expect(bashComplete('osb', '--set', 'mariadb.port', '=', '13306', 'deploy', 'r')).toEqual(['rabbitmq']);
    expect(bashComplete('osb', '-f', '/tmp/values.yaml', 'sta')).toEqual(['status']);
    expect(bashComplete('osb', 'deploy', '--js')).toEqual(['--json']);
    expect(bashComplete('osb', 'status', '--sta')).toEqual(['--state-dir']);
    expect(bashComplete('osb', '--target', '')).toEqual(['local', 'kubernetes']);
    expect(bashComplete('osb', 'endpoints', '--format', '')).toEqual(['oslo', 'json', 'env']);
    expect(bashComplete('osb', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
    // logs -f is --follow (no value), unlike the global -f FILE.
    expect(bashComplete('osb', 'logs', '-f', 'rab')).toEqual(['rabbitmq']);
    const f = script('bash');
    expect(bashComplete('osb', '--values', f.slice(0, -3))).toEqual([f]);
  });
});

describe('osb completion fish (a real fish answers complete -C)', () => {
  const fish = (line: string) => {
    const r = spawnSync('fish', ['--no-config', '-c', `source ${script('fish')}; complete -C ${JSON.stringify(line)}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0]);
  };
  it('completes commands, --set keys and values, --service names', () => {
    expect(fish('osb deplo')).toEqual(['deploy']);
    expect(fish('osb deploy --set rabbitmq.rep')).toEqual(['rabbitmq.replicas=']);
    expect(fish('osb --set rabbitmq.partitionHandling=').sort()).toEqual(['rabbitmq.partitionHandling=autoheal', 'rabbitmq.partitionHandling=pause_minority']);
    expect(fish('osb endpoints --service n').sort()).toEqual(
      Object.keys(CATALOGUE)
        .filter((s) => s.startsWith('n'))
        .sort(),
    );
    expect(fish('osb status ma')).toEqual(['mariadb']);
  });
});

describe('osb completion zsh', () => {
  it('is a script zsh parses, with the same command list, keys and services', () => {
    const file = script('zsh');
    const r = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // The shared helpers answer the same in zsh as in bash.
    const ask = spawnSync(
      'zsh',
      ['-f', '-c', `compdef() { :; }; source ${file}; echo $_osb_commands; _osb_option_kind endpoints --service; _osb_set_values rabbitmq.partitionHandling`],
      { encoding: 'utf8' },
    );
    expect(ask.status, ask.stderr).toBe(0);
    const [commands, service, values] = ask.stdout.trim().split('\n');
    expect(commands!.split(' ')).toContain('deploy');
    expect(service).toBe(`words:${Object.keys(CATALOGUE).join(' ')}`);
    expect(values).toBe('pause_minority autoheal');
  });
});

describe('osb completion (bad input)', () => {
  it('refuses an unknown shell with the list of shells, exit code 2', async () => {
    const { completionCommand } = await import('../../src/cli/commands/completion.js');
    const err = await completionCommand('powershell', buildProgram()).catch((e: unknown) => e as { line: string; exitCode: number });
    expect(err).toMatchObject({ exitCode: 2 });
    expect((err as { line: string }).line).toContain('no completion for shell "powershell"');
    expect((err as { line: string }).line).toContain('bash, zsh, fish');
  });
});
