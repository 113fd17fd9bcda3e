// Run by bin/cfn-supervise, with no NODE_OPTIONS, when the user's may hold a flag meant for the agent: prints the
// options the supervisor's own node starts with (config/node-options.ts).
import { CARRIER_ENV, supervisorNodeOptions } from '../config/node-options.js';

process.stdout.write(supervisorNodeOptions({ ...process.env, NODE_OPTIONS: process.env[CARRIER_ENV] }));
