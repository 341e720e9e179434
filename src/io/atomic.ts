/**
 * Atomic file writes: write to a temporary name in the same directory, then rename over the target, so a
 * reader (or a run interrupted half-way) never sees half a file.
 *
 * @module
 */

/** A fresh temporary name next to `path` (hidden, ends in `.tmp`). */
export function tempNameFor(path: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  return `${dir}.${path.slice(slash + 1)}.${Date.now().toString(36)}${
    Math.random().toString(36).slice(2, 10)
  }.tmp`;
}

/**
 * Writes `text` to `path` atomically (temporary file, then rename).
 *
 * @throws {Error} `writing <path> failed: <reason>`; the temporary file is removed
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeBytesAtomic(path, new TextEncoder().encode(text));
}

/**
 * Writes `bytes` to `path` atomically (temporary file, then rename).
 *
 * @throws {Error} `writing <path> failed: <reason>`; the temporary file is removed
 */
export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempNameFor(path);
  try {
    await Deno.writeFile(tmp, bytes, { createNew: true });
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      await Deno.remove(tmp);
    } catch {
      // never created or already gone
    }
    throw new Error(`writing ${path} failed: ${(e as Error).message}`, { cause: e });
  }
}
