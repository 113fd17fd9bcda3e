/*
 * The only file the probe ever writes: the empty 0600 file the supervisor created for one capture, directly in
 * the captures folder it named at registration. Opened without O_CREAT (never a new file), without O_TRUNC
 * (never someone else's data) and with O_NOFOLLOW, then checked on the open descriptor, so a file swapped in
 * after the supervisor made it is refused rather than written.
 */
import fs = require('node:fs');
import path = require('node:path');

export function openCaptureFile(file: string, capturesDir: string | undefined): number {
  if (!capturesDir) throw new Error('no captures folder configured');
  if (path.dirname(path.resolve(file)) !== path.resolve(capturesDir)) throw new Error(`refusing to write outside ${capturesDir}`);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    const problem = !st.isFile()
      ? 'not a regular file'
      : st.size !== 0
        ? 'not empty'
        : (st.mode & 0o777) !== 0o600
          ? `mode ${(st.mode & 0o777).toString(8)}, not 600`
          : st.uid !== process.getuid?.()
            ? 'not owned by this user'
            : st.nlink !== 1
              ? 'has other links'
              : undefined;
    if (problem) throw new Error(`refusing to write ${file}: ${problem}`);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Writes all of `data` or throws (a full disk shows as a short write, then ENOSPC). */
export function writeAll(fd: number, data: string): number {
  const buf = Buffer.from(data);
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done);
    if (n <= 0) throw new Error('the capture file took no more bytes');
    done += n;
  }
  return done;
}
