// Ordinary least squares: the leak trend (watch/trend.ts) and growth across runs (report/growth.ts) are both
// the slope of a line through points, and how well the line fits them.

export interface Fit {
  readonly slope: number;
  readonly intercept: number;
  /** Coefficient of determination: the share of the variance the line explains (1 when ys are all equal). */
  readonly r2: number;
}

/** Ordinary least squares of ys over xs (at least two points). */
export function linearFit(xs: readonly number[], ys: readonly number[]): Fit {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const r2 = syy === 0 ? 1 : sxx === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * mx, r2 };
}
