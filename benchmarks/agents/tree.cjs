// An agent tree of n node processes: `tree.cjs <marker> <n>` keeps n - 1 idle node children, as an agent
// with subagents and MCP servers does. The children die with their parent's process group.
const { spawn } = require('node:child_process');
const n = Number(process.argv[3]);
for (let i = 1; i < n; i++) spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
setInterval(() => {}, 1000);
