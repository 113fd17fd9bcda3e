// One capture as the dashboard shows it: its top allocation sites and, for a heap profile, its call tree as an
// icicle. Only a capture's own name in the captures folder is opened (no path from the page is ever joined as
// given), only up to a size, and the last one read is kept so the page's two requests parse it once.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type TopSite, topSites } from '../analysis/index.js';
import { readProfile, summarizeProfile } from '../analysis/profile.js';
import { HttpError } from '../common/errors.js';
import { icicleLayout, icicleSvg } from '../report/icicle.js';
import type { Summary } from '../analysis/index.js';
import { CAPTURE_FILE } from './dashboard-feed.js';

const MAX_PROFILE_BYTES = 64 * 1024 * 1024;
const MAX_SUMMARY_BYTES = 16 * 1024 * 1024;
const TOP = 10;

export interface CaptureView {
  file: string;
  sites: TopSite[];
  note?: string;
  /** The icicle as an SVG document (heap profiles only). */
  svg?: string;
}

async function readBounded(file: string, max: number): Promise<string> {
  const st = await fs.stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new HttpError(404, `no capture ${path.basename(file)}`);
  if (st.size > max) throw new HttpError(413, `${path.basename(file)} is larger than ${max / 1048576} MiB; analyse it with cfn-supervise analyze`);
  return fs.readFile(file, 'utf8');
}

async function build(dir: string, name: string): Promise<CaptureView> {
  const file = path.join(dir, name);
  if (name.endsWith('.heapprofile')) {
    let raw: { head?: unknown };
    try {
      raw = JSON.parse(await readBounded(file, MAX_PROFILE_BYTES)) as { head?: unknown };
      const summary = summarizeProfile(name, readProfile(raw), TOP);
      const svg = icicleSvg(icicleLayout(raw.head), `call tree of ${name}, width by live sampled bytes`);
      return { file: name, sites: topSites(summary, TOP), svg, ...(summary.note ? { note: summary.note } : {}) };
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(422, `${name} is not a readable heap profile`);
    }
  }
  // A snapshot is too large to parse here: its top retainers come from the summary the supervisor wrote, if any.
  try {
    const summary = JSON.parse(await readBounded(`${file}.summary.json`, MAX_SUMMARY_BYTES)) as Summary;
    return { file: name, sites: topSites(summary, TOP) };
  } catch {
    return { file: name, sites: [], note: 'not analysed: run cfn-supervise analyze on it' };
  }
}

export class CaptureViews {
  private last: { key: string; view: Promise<CaptureView> } | undefined;

  constructor(private readonly dir: () => Promise<string>) {}

  async view(name: string | null): Promise<CaptureView> {
    if (!name || !CAPTURE_FILE.test(name)) throw new HttpError(400, 'expected a capture file name');
    const dir = await this.dir();
    const key = path.join(dir, name);
    if (this.last?.key !== key) {
      const view = build(dir, name);
      this.last = { key, view };
      view.catch(() => {
        if (this.last?.view === view) this.last = undefined;
      });
    }
    return this.last.view;
  }
}
