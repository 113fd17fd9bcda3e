// `cleanup` with no supervisor running (a hook after a task, a cron job): what a supervisor would tidy at start.
// It takes the state dir's lock like a supervisor, so it never races a live one.
import { lockStateDir, statePaths } from '../../common/statedir.js';
import type { Config } from '../../config/config.js';
import { enforceRetention, removeLeftTemps, retentionOf } from '../journal/captures.js';
import { openJournal } from '../journal/journal.js';
import { REPORTS_KEPT, pruneReports } from '../journal/reports.js';
import { endLostRun, takeLostLedger } from './ledger.js';

export interface OfflineCleanup {
  /** The run a killed supervisor left, now ended and recorded. */
  lostRun?: string;
  ended: { pid: number; comm: string }[];
  removedCaptures: string[];
  summary: string;
}

export async function cleanupStateDir(config: Config): Promise<OfflineCleanup> {
  const paths = statePaths(config.stateDir);
  const lock = lockStateDir(paths.root);
  try {
    const ledger = takeLostLedger(paths.ledger);
    const lost = ledger ? await endLostRun(ledger, config.killTimeoutMs) : undefined;
    if (lost?.record) {
      const journal = openJournal({ logFile: paths.log, runsFile: paths.runs, alertsFile: paths.alerts, processesFile: paths.processes });
      journal.runs.info(lost.record);
      journal.log.warn({ lost_supervisor: lost.supervisorPid, run: lost.record.run_id, ended: lost.ended }, 'cleanup: a lost supervisor left a run behind');
      await journal.close();
    }
    const removedCaptures = [...(await removeLeftTemps(config.capturesDir)), ...(await enforceRetention(config.capturesDir, retentionOf(config)))];
    pruneReports(paths.reports, REPORTS_KEPT);
    const ended = lost?.ended ?? [];
    const parts = [
      lost?.record ? `recorded the lost run ${lost.record.run_id} and ended ${ended.length} of its processes` : 'no lost run',
      `removed ${removedCaptures.length} old capture file${removedCaptures.length === 1 ? '' : 's'}`,
    ];
    return { ...(lost?.record ? { lostRun: lost.record.run_id } : {}), ended, removedCaptures, summary: `no supervisor running in ${paths.root}: ${parts.join(', ')}` };
  } finally {
    lock.release();
  }
}
