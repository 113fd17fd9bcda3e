// The metric names a PromQL expression selects, and the expressions held by a rules file or a Grafana
// dashboard. A lexical pass, enough for the queries this project ships: strings, label matchers, ranges and
// grouping clauses are dropped, then every remaining identifier that is neither a keyword nor a call is a name.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?\w+|@\s*\S+/g, ' ');
  const names = new Set<string>();
  // Numbers (1e6, 0x1f, 1048576) are matched first so their letters are never taken for names.
  for (const m of bare.matchAll(/\d[\w.]*|([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (name && !call && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** Every `expr` of a Prometheus rules file. */
export function ruleExpressions(file: string): string[] {
  const doc = parse(readFileSync(file, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

/** Every PromQL query of a Grafana dashboard: panel targets (also inside rows) and the templating queries. */
export function dashboardExpressions(file: string): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'expr' && typeof value === 'string') found.push(value);
        else walk(value);
      }
    }
  };
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: unknown[]; templating?: { list: { query?: string | { query: string } }[] } };
  walk(dashboard.panels);
  for (const variable of dashboard.templating?.list ?? []) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    // label_values(<selector>, <label>): Grafana's, not PromQL; its selector is.
    const selector = query && /^label_values\((.*),\s*\w+\)$/.exec(query.trim());
    if (selector) found.push(selector[1]!);
  }
  return found;
}

/** A Grafana query as plain PromQL: its variables replaced by values Prometheus accepts. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?\w+\}?/g, '.+');
}
