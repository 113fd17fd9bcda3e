// `cfn-supervise report`: what a state dir's journals say about a period, with no supervisor needed.
export { type Culprit, type DayStats, type Report, type RoleStats, ReportBuilder, TREE_ROLE } from './aggregate.js';
export { type FullReport, type Sources, collectReport } from './collect.js';
export { type Growth, LEAK_RULE, acrossRuns } from './growth.js';
export { renderHtml } from './html.js';
export { type Recommendations, recommend } from './recommend.js';
export { DEFAULT_SINCE, parseSince } from './since.js';
export { formatText } from './text.js';
