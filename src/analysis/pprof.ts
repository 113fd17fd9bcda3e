// A `.heapprofile` (V8's sampling heap profile) as a pprof Profile, the format continuous profilers read
// (Pyroscope, Grafana, Datadog, `go tool pprof`). Each node of V8's call tree that holds live sampled bytes
// becomes one sample: its stack (leaf first), the objects sampled there and their bytes. A location is a V8
// call frame, with one line naming its function; V8 gives a frame the line its function starts on.
// The message layout is pprof's profile.proto (github.com/google/pprof/proto/profile.proto).
import { gzipSync } from 'node:zlib';
import { AnalysisError } from './errors.js';
import { profileHead, profileNode, profileSamples } from './profile.js';
import { ProtoWriter } from './protobuf.js';

export interface Pprof {
  /** The Profile message, gzipped, as pprof files are. */
  readonly gzipped: Uint8Array;
  readonly samples: number;
  readonly locations: number;
}

interface Location {
  readonly id: number;
  readonly functionId: number;
  readonly line: number;
}

interface Fn {
  readonly id: number;
  readonly name: number;
  readonly filename: number;
  readonly startLine: number;
}

interface Sample {
  readonly locationIds: number[];
  readonly objects: number;
  readonly bytes: number;
}

/** A frame's place in the stack: its location and its caller's link (the root frame has none). */
interface StackLink {
  readonly locationId: number;
  readonly caller: StackLink | undefined;
}

class Strings {
  readonly table: string[] = [''];
  private readonly index = new Map<string, number>([['', 0]]);

  of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.table.length;
      this.table.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** How many sampled objects each node of the tree holds (`samples[].nodeId`). */
function objectsPerNode(raw: unknown): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  for (const sample of profileSamples(raw)) {
    const nodeId = (sample as { nodeId?: unknown } | null)?.nodeId;
    if (typeof nodeId !== 'number') throw new AnalysisError('not a valid heap profile: a sample has no nodeId');
    counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
  }
  return counts;
}

function stackOf(link: StackLink): number[] {
  const ids: number[] = [];
  for (let l: StackLink | undefined = link; l; l = l.caller) ids.push(l.locationId);
  return ids;
}

function encode(strings: Strings, samples: Sample[], locations: Iterable<Location>, functions: Iterable<Fn>): Uint8Array {
  const w = new ProtoWriter();
  // sample_type: values are [objects, bytes], the usual order of a heap profile's in-use values.
  w.message(1, (v) => v.uint(1, strings.of('inuse_objects')).uint(2, strings.of('count')));
  w.message(1, (v) => v.uint(1, strings.of('inuse_space')).uint(2, strings.of('bytes')));
  for (const s of samples) w.message(2, (m) => m.packed(1, s.locationIds).packed(2, [s.objects, s.bytes]));
  for (const l of locations) w.message(4, (m) => m.uint(1, l.id).message(4, (line) => line.uint(1, l.functionId).uint(2, l.line)));
  for (const f of functions) {
    w.message(5, (m) => m.uint(1, f.id).uint(2, f.name).uint(3, f.name).uint(4, f.filename).uint(5, f.startLine));
  }
  // period_type and default_sample_type: sampled space, shown by default.
  w.message(11, (v) => v.uint(1, strings.of('space')).uint(2, strings.of('bytes')));
  w.uint(14, strings.of('inuse_space'));
  // Last: every string above is in the table by now.
  for (const s of strings.table) w.field(6, s);
  return w.bytes();
}

/** Converts a parsed `.heapprofile`; throws AnalysisError on anything else. */
export function heapProfileToPprof(raw: unknown): Pprof {
  const head = profileHead(raw);
  const objects = objectsPerNode(raw);
  const strings = new Strings();
  const functions = new Map<string, Fn>();
  const locations = new Map<string, Location>();
  const samples: Sample[] = [];

  const locationOf = (name: string, url: string, line: number, column: number): number => {
    const key = `${name}\u0000${url}\u0000${line}\u0000${column}`;
    let location = locations.get(key);
    if (!location) {
      const fnKey = `${name}\u0000${url}\u0000${line}`;
      let fn = functions.get(fnKey);
      if (!fn) {
        fn = { id: functions.size + 1, name: strings.of(name), filename: strings.of(url), startLine: line };
        functions.set(fnKey, fn);
      }
      location = { id: locations.size + 1, functionId: fn.id, line };
      locations.set(key, location);
    }
    return location.id;
  };

  // The head is V8's `(root)`, no frame of the program: its children are the stacks' outermost frames.
  const stack: { node: unknown; caller: StackLink | undefined }[] = profileNode(head).children.map((node) => ({ node, caller: undefined }));
  while (stack.length > 0) {
    const { node: item, caller } = stack.pop()!;
    const node = profileNode(item);
    const line = Math.max(0, node.lineNumber + 1);
    const link = { locationId: locationOf(node.functionName || '(anonymous)', node.url, line, node.columnNumber), caller };
    for (const child of node.children) stack.push({ node: child, caller: link });
    const count = objects.get(node.id) ?? 0;
    if (node.selfSize > 0 || count > 0) samples.push({ locationIds: stackOf(link), objects: count, bytes: Math.round(node.selfSize) });
  }
  return {
    gzipped: gzipSync(encode(strings, samples, locations.values(), functions.values())),
    samples: samples.length,
    locations: locations.size,
  };
}
