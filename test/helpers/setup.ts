// Installed for every test file (vitest setupFiles): what a test started is ended after it, what a file
// started in beforeAll after the file, also when they failed.
import { afterAll, afterEach } from 'vitest';
import { cleanup } from './cli.js';

afterEach(() => cleanup('test'));
afterAll(() => cleanup('file'));
