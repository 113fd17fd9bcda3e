// A heap profile's call tree as an icicle: the root across the top, each frame below its caller, as wide as the
// live sampled bytes allocated in it and under it. Pure layout, then one SVG through svg.ts's frame and esc.
import path from 'node:path';
import { CHART_WIDTH, esc, frame } from './svg.js';

export interface IcicleCell {
  /** Left edge and width as fractions of the whole (0..1). */
  x: number;
  width: number;
  depth: number;
  label: string;
  bytes: number;
}

export interface IcicleOptions {
  /** Cells narrower than this fraction of the root are left out (with what they hold): they would be a hairline. */
  minWidth?: number;
  maxDepth?: number;
  maxCells?: number;
}

interface RawNode {
  callFrame?: { functionName?: unknown; url?: unknown; lineNumber?: unknown };
  selfSize?: unknown;
  children?: unknown;
}

const ROW = 18;
const COLORS = ['#f4a261', '#e76f51', '#e9c46a', '#f6bd60', '#f28482', '#f5cac3', '#ee9b00', '#ca6702'];

function frameLabel(node: RawNode): string {
  const f = node.callFrame ?? {};
  const name = typeof f.functionName === 'string' && f.functionName !== '' ? f.functionName : '(anonymous)';
  const url = typeof f.url === 'string' && f.url !== '' ? f.url : '';
  if (!url) return name;
  const line = typeof f.lineNumber === 'number' && f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : '';
  return `${name} ${path.basename(url)}${line}`;
}

const childrenOf = (node: RawNode): RawNode[] => (Array.isArray(node.children) ? (node.children as RawNode[]) : []);

/** Bytes at and under every node, without recursion: a deep call tree must not overflow the stack. */
function totals(head: RawNode): Map<RawNode, number> {
  const order: RawNode[] = [];
  const stack = [head];
  while (stack.length) {
    const n = stack.pop()!;
    order.push(n);
    stack.push(...childrenOf(n));
  }
  const sums = new Map<RawNode, number>();
  for (const n of order.reverse()) {
    const self = typeof n.selfSize === 'number' && n.selfSize > 0 ? n.selfSize : 0;
    sums.set(n, self + childrenOf(n).reduce((s, c) => s + (sums.get(c) ?? 0), 0));
  }
  return sums;
}

/** The cells of a `.heapprofile`'s `head`, widest first within each caller, bounded in depth and count. */
export function icicleLayout(head: unknown, opts: IcicleOptions = {}): IcicleCell[] {
  const { minWidth = 0.002, maxDepth = 48, maxCells = 1500 } = opts;
  if (typeof head !== 'object' || head === null) return [];
  const sums = totals(head);
  const total = sums.get(head) ?? 0;
  if (total <= 0) return [];
  const cells: IcicleCell[] = [];
  const queue: { node: RawNode; x: number; depth: number }[] = [{ node: head, x: 0, depth: 0 }];
  // Breadth first: when the cap cuts, it cuts the deepest and narrowest frames.
  for (let i = 0; i < queue.length && cells.length < maxCells; i++) {
    const { node, x, depth } = queue[i]!;
    const bytes = sums.get(node)!;
    cells.push({ x, width: bytes / total, depth, label: depth === 0 ? 'all live sampled bytes' : frameLabel(node), bytes });
    if (depth + 1 >= maxDepth) continue;
    let left = x;
    for (const child of [...childrenOf(node)].sort((a, b) => sums.get(b)! - sums.get(a)!)) {
      const width = sums.get(child)! / total;
      if (width < minWidth) break;
      queue.push({ node: child, x: left, depth: depth + 1 });
      left += width;
    }
  }
  return cells;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(bytes >= 10 * 1048576 ? 0 : 1)} MiB`;

export function icicleSvg(cells: readonly IcicleCell[], label: string): string {
  const depth = Math.max(0, ...cells.map((c) => c.depth)) + 1;
  const height = depth * ROW + 4;
  const body = cells
    .map((c, i) => {
      const x = c.x * CHART_WIDTH;
      const w = Math.max(0.5, c.width * CHART_WIDTH - 0.5);
      const y = c.depth * ROW;
      const chars = Math.floor((w - 6) / 6.2);
      const shown = chars < 3 ? '' : c.label.length > chars ? `${c.label.slice(0, chars - 1)}…` : c.label;
      const text = shown ? `<text x="${(x + 3).toFixed(1)}" y="${y + 13}" class="cell">${esc(shown)}</text>` : '';
      const tip = `${c.label}: ${mib(c.bytes)} (${(c.width * 100).toFixed(1)}%)`;
      return `<g><title>${esc(tip)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="${COLORS[i % COLORS.length]}"/>${text}</g>`;
    })
    .join('');
  const style = '<style>text{font:11px system-ui,sans-serif;fill:#1d232b}</style>';
  return frame('icicle', label, height, `${style}${body}`);
}
