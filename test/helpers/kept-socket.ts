// The sockets the supervisor listens on again when their file is removed (the control socket, the tree's sockets).
import { existsSync, rmSync } from 'node:fs';
import { expect } from 'vitest';

interface KeptSocket {
  socketPath: string;
  keep(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Closing removes the socket file, which `keep` takes for a state dir emptied under a running supervisor: it must
 * not listen again, neither after the close nor when a keep is under way as the close comes.
 */
export async function expectNoListenAfterClose(open: () => Promise<KeptSocket>): Promise<void> {
  for (const racing of [false, true]) {
    const socket = await open();
    rmSync(socket.socketPath);
    const kept = racing ? socket.keep() : Promise.resolve(false);
    await socket.close();
    expect(await kept).toBe(racing);
    expect(await socket.keep()).toBe(false);
    expect(existsSync(socket.socketPath)).toBe(false);
  }
}
