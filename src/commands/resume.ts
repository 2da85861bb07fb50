import { openLedgerAndQueue, Resources } from '../resources.js';
import { describeResume, resumeQueue } from '../runs/resume.js';
import type { ResumeFlags } from '../cli/flags.js';
import type { CommandContext, ExitCode } from './context.js';

/**
 * Puts back into Redis every pending number whose job is missing, clears an account alert and
 * resumes a paused queue. Doing it when nothing is missing changes nothing.
 */
export async function resumeCommand(opts: ResumeFlags, ctx: CommandContext): Promise<ExitCode> {
  const res = new Resources();
  try {
    const { pool, redis, queue } = await openLedgerAndQueue(res, ctx.config, ctx.log, 2);
    const result = await resumeQueue(ctx.config, { pool, queue, redis, log: ctx.log });
    ctx.out(opts.json ? JSON.stringify(result) : describeResume(result));
    return 0;
  } finally {
    await res.close();
  }
}
