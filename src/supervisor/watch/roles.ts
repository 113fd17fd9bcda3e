// Pure: the thresholds that hold for one process, from its role: the first `roles:` rule of the config whose
// pattern matches the role sets its values over the global ones, as the seeds set limits per agent type.
import type { RoleRule } from '../../config/config.js';
import type { Thresholds } from './policy.js';

const patterns = new Map<string, RegExp>();

/** `*` matches any run of characters; everything else is literal. */
export function roleMatches(pattern: string, role: string): boolean {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    patterns.set(pattern, re);
  }
  return re.test(role);
}

export function thresholdsFor(role: string, base: Thresholds): Thresholds {
  const rule: RoleRule | undefined = base.roles.find((r) => roleMatches(r.pattern, role));
  return rule ? { ...base, ...rule.set } : base;
}
