import { writeOut } from '../../util/output.js';
import type { Command } from 'commander';
import { OsbError, didYouMean } from '../../util/errors.js';
import { SHELLS, completionScript, type Shell } from '../completion.js';

/** `osb completion bash|zsh|fish`: prints the completion script for that shell. */
export async function completionCommand(shell: string, program: Command): Promise<number> {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    const hint = didYouMean(shell, SHELLS);
    throw new OsbError(`no completion for shell "${shell}"`, `${hint ? `did you mean "${hint}"? ` : ''}shells: ${SHELLS.join(', ')}`, 2);
  }
  writeOut(completionScript(shell as Shell, program));
  return 0;
}
