// The shipped Prometheus rules and Grafana dashboard against promtool and against a real scrape: every
// metric they reference must be one the built supervisor exports. Needs promtool (scripts/test-deps.sh) and
// a current dist/ (npm test builds it first; otherwise run npm run build).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, spawnTracked, tempDir, trackGroup } from '../helpers/cli.js';
import { send } from '../control/harness.js';
import { declares, parseExposition, series } from './exposition.js';
import { dashboardExpressions, metricNames, ruleExpressions, withoutGrafanaVariables } from './promql.js';

const RULES_DIR = path.join(ROOT, 'examples/prometheus');
const ALERTS = path.join(RULES_DIR, 'alerts.yml');
const DASHBOARD = path.join(ROOT, 'examples/grafana/dashboard.json');
/** Series Prometheus itself adds for every target: a rule may use them, no exporter serves them. */
const SYNTHETIC = new Set(['up']);

const promtool = (args: string[], cwd = RULES_DIR) => execFileSync('promtool', args, { cwd, encoding: 'utf8', stdio: 'pipe' });

beforeAll(() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('promtool is missing: run bash scripts/test-deps.sh');
  }
});

describe('the examples under promtool', () => {
  it('alerts.yml passes promtool check rules', () => {
    expect(promtool(['check', 'rules', 'alerts.yml'])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('alerts.test.yml passes promtool test rules', () => {
    expect(promtool(['test', 'rules', 'alerts.test.yml'])).toMatch(/SUCCESS/);
  });

  it('every dashboard query is valid PromQL once its Grafana variables are filled in', () => {
    const dir = tempDir('cfn-dashboard-rules-');
    const rules = dashboardExpressions(DASHBOARD).map((expr, i) => ({ record: `cfn_dashboard_query_${i}`, expr: withoutGrafanaVariables(expr) }));
    expect(rules.length).toBeGreaterThan(10);
    writeFileSync(path.join(dir, 'dashboard.rules.json'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    expect(promtool(['check', 'rules', 'dashboard.rules.json'], dir)).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});

describe('metric names', () => {
  it('are read from the examples: selectors, not labels, functions or keywords', () => {
    const rules = new Set(ruleExpressions(ALERTS).flatMap(metricNames));
    expect(rules).toEqual(
      new Set([
        'up',
        'cfn_supervise_agent_up',
        'cfn_supervise_agent_process_heap_used_bytes',
        'cfn_supervise_agent_process_heap_limit_bytes',
        'cfn_supervise_agent_process_resident_memory_bytes',
        'cfn_supervise_agent_processes',
        'cfn_supervise_agent_tree_resident_memory_bytes',
        'cfn_supervise_agent_process_heap_growth_bytes_per_second',
        'cfn_supervise_agent_process_oom_forecast_seconds',
        'cfn_supervise_restarts_total',
        'cfn_supervise_agent_exits_total',
      ]),
    );
    const dashboard = new Set(dashboardExpressions(DASHBOARD).flatMap(metricNames));
    // What the dashboard is for: per-role memory and limits, restarts, exits, alerts, the supervisor's own cost.
    for (const name of [
      'cfn_supervise_agent_process_resident_memory_bytes',
      'cfn_supervise_agent_process_heap_used_bytes',
      'cfn_supervise_agent_process_heap_limit_bytes',
      'cfn_supervise_restarts_total',
      'cfn_supervise_agent_exits_total',
      'cfn_supervise_alerts_total',
      'cfn_supervise_self_resident_memory_bytes',
      'cfn_supervise_self_cpu_seconds_total',
    ]) {
      expect(dashboard).toContain(name);
    }
    expect([...dashboard].filter((n) => !n.startsWith('cfn_supervise_'))).toEqual([]);
  });
});

describe('against a real supervisor', () => {
  it('exports every metric the rules and the dashboard reference', async () => {
    const stateDir = tempDir('cfn-ops-prometheus-');
    const stderr: Buffer[] = [];
    const supervisor = spawnTracked(process.execPath, [CLI, '--state-dir', stateDir, '--min-free', '0', '--', process.execPath, '-e', 'setInterval(()=>{},1000)'], {
      cwd: stateDir,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // It leads its own group (detached) and the agent runs in one of its own: the group goes whole after the test.
    trackGroup(supervisor.pid!);
    supervisor.stderr.on('data', (b: Buffer) => stderr.push(b));
    const socketPath = path.join(stateDir, 'control.sock');

    // Ready once the socket answers and the agent has been sampled, so per-role series are present too.
    let text: string;
    for (const deadline = Date.now() + 30_000; ; ) {
      const scrape = await send({ socketPath }, 'GET', '/metrics').catch(() => undefined);
      if (scrape?.status === 200) {
        text = scrape.text;
        if (/^cfn_supervise_agent_processes\{role="agent"\} 1$/m.test(text)) break;
      }
      if (Date.now() > deadline) throw new Error(`no scrape with the agent sampled within 30 s; stderr: ${Buffer.concat(stderr).toString()}`);
      await sleep(100);
    }

    const exp = parseExposition(text);
    expect(series(exp, 'cfn_supervise_agent_up')[0]?.value).toBe(1);
    const referenced = new Set([...ruleExpressions(ALERTS), ...dashboardExpressions(DASHBOARD)].flatMap(metricNames));
    const missing = [...referenced].filter((name) => !SYNTHETIC.has(name) && !declares(exp, name));
    expect(missing, 'referenced by the examples but not in the scrape (is dist/ current? npm run build)').toEqual([]);
    // The check itself can fail: a name nobody exports is reported.
    expect(declares(exp, 'cfn_supervise_no_such_metric')).toBe(false);
    expect(declares(exp, 'cfn_supervise_sample_duration_seconds_bucket')).toBe(true);
    // The exposition is written by hand (control/exposition.ts): Prometheus's own linter reads it.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);
  });
});
