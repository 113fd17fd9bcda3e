import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, Harness, collect, waitForOutput } from './helpers.js';

let h: Harness | undefined;
describe("an app's own sampling heap profiler (the sampler is one per isolate)", () => {
  it('is read by a profile capture and left running: the app reads and stops its own profile after', async () => {
    h = await new Harness().start({ samplingInterval: 32 * 1024 });
    const child = h.spawn(process.execPath, [path.join(FIXTURES, 'own-sampler.cjs')], { env: h.env() });
    const stderr = collect(child.stderr);
    const sampling = waitForOutput(child.stdout, /sampling/);
    const rec = await h.registered((r) => r.pid === child.pid);
    await h.sessions.attach(rec);
    await sampling;
    // A capture as the supervisor makes one: hold, read, release; then a stop, as `sampling stop` sends.
    const { file } = await h.sessions.saveProfile(rec.pid, 'own sampler', { coldSeconds: 1 });
    expect(path.basename(file)).toMatch(/\.heapprofile$/);
    await h.sessions.stopSampling(rec.pid);
    const own = waitForOutput(child.stdout, /own profile .*/);
    h.registry.send(rec.pid, { type: 'memory-pressure', level: 'read' });
    expect(await own).toBe('own profile ok true');
    expect(stderr()).toBe('');
  });
});
