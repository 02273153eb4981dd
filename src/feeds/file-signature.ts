import { stat } from 'node:fs/promises';

/**
 * What identifies one version of a file, for polling: device, inode, size and mtime (a rename-into-place
 * changes the inode even when size and mtime match). A missing file has its own stable signature.
 */
export async function fileSignature(path: string): Promise<string> {
  try {
    const st = await stat(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}
