/**
 * The attachment allowlist (CONTRACT.md, "Attachment allowlist"): turns a client-supplied
 * `image_path` / `document_path` into an open handle on a regular file inside one of the configured
 * roots, or into the uniform refusal. The caller never learns why a path was refused — the reason
 * goes to the log, and the path itself goes nowhere, so the API cannot be used to probe the disk.
 *
 * The file is opened exactly once and everything after that (size, type sniffing, sending) should
 * read from the returned handle, never from the path again: only the handle is what was checked.
 * Size caps are the caller's job. This server is POSIX; Windows-style paths are never valid here.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { mkdir, open, lstat, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export type AttachmentField = 'image_path' | 'document_path';

export interface OpenedAttachment {
  ok: true;
  /** Open read-only; the caller owns it and must close it. */
  handle: FileHandle;
  size: number;
  /** The file's canonical path (symlinks resolved), for server-side use only. */
  realPath: string;
  /** The last segment of the path as the client gave it (a symlink's name, not its target's). */
  baseName: string;
}

export interface AttachmentRefusal {
  ok: false;
  message: `${AttachmentField} is not allowed`;
}

export interface AttachmentAllowlist {
  /** The canonical (realpath'd) roots, deduplicated. */
  readonly roots: readonly string[];
  open(field: AttachmentField, requested: string): Promise<OpenedAttachment | AttachmentRefusal>;
}

export interface AttachmentLog {
  warn(obj: object, msg: string): void;
}

// Compared lower-cased and on segment boundaries, on the requested path and again on its realpath.
const FORBIDDEN_POSIX = ['/etc', '/proc', '/sys', '/root', '/var/log'];
// Matched after folding `\` to `/`, lower-casing and stripping `\\?\` / `\\.\` device prefixes.
const FORBIDDEN_WINDOWS = /^[a-z]:\/+(windows|users\/+default)(\/|$)/;

// O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOFOLLOW: a symlink swapped in for the
// last segment after realpath fails the open instead of being followed.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOFOLLOW ?? 0);

function isUnder(candidate: string, dir: string): boolean {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return candidate === dir || candidate.startsWith(prefix);
}

function isForbiddenPosix(p: string): boolean {
  const folded = path.posix.normalize(p).toLowerCase();
  return FORBIDDEN_POSIX.some((dir) => isUnder(folded, dir));
}

function isForbiddenWindows(p: string): boolean {
  const folded = p
    .replace(/\\/g, '/')
    .toLowerCase()
    .replace(/^\/\/[?.]\//, '');
  return FORBIDDEN_WINDOWS.test(folded);
}

/** Strictly inside a root (the root directory itself is not a file anyway). */
function insideRoots(real: string, roots: readonly string[]): boolean {
  return roots.some((root) => real !== root && isUnder(real, root));
}

function errorCode(err: unknown): string {
  // Only the code: Node's error messages contain the path.
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}

/** Linux names the file an fd really refers to; undefined where there is no /proc. */
async function pathOfHandle(handle: FileHandle): Promise<string | undefined> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return undefined;
  }
}

export async function createAttachmentAllowlist(options: { roots: string[]; log: AttachmentLog }): Promise<AttachmentAllowlist> {
  const { log } = options;
  const roots: string[] = [];
  for (const configured of options.roots) {
    if (!path.isAbsolute(configured) || configured.includes('\0')) {
      throw new Error(`WHATSAPP_ATTACHMENT_ROOTS entry is not an absolute path: ${JSON.stringify(configured)}`);
    }
    // The default root (<project>/db/attachments/) does not exist on a fresh checkout.
    let real: string;
    try {
      await mkdir(configured, { recursive: true });
      real = await realpath(configured);
    } catch (err) {
      throw new Error(`WHATSAPP_ATTACHMENT_ROOTS entry cannot be created or resolved (${errorCode(err)}): ${JSON.stringify(configured)}`, {
        cause: err,
      });
    }
    if (!(await stat(real)).isDirectory()) {
      throw new Error(`WHATSAPP_ATTACHMENT_ROOTS entry is not a directory: ${JSON.stringify(configured)}`);
    }
    if (isForbiddenPosix(real)) {
      // Not fatal (attachments may be unused), but nothing in it will ever be accepted.
      log.warn({ root: real }, 'attachment root lies under a forbidden system directory; it admits nothing');
    }
    if (!roots.includes(real)) roots.push(real);
  }

  const refuse = (field: AttachmentField, reason: string): AttachmentRefusal => {
    log.warn({ field, reason }, 'attachment refused');
    return { ok: false, message: `${field} is not allowed` };
  };

  async function openChecked(field: AttachmentField, requested: string): Promise<OpenedAttachment | AttachmentRefusal> {
    if (typeof requested !== 'string' || requested === '') return refuse(field, 'empty or not a string');
    if (requested.includes('\0')) return refuse(field, 'NUL byte');
    // On the raw string, before anything normalises it away; `\` counts as a separator too.
    if (requested.split(/[/\\]/).includes('..')) return refuse(field, 'dot-dot segment');
    if (isForbiddenWindows(requested)) return refuse(field, 'Windows system path');
    // Anything else Windows-shaped (C:\..., \\server\share) is not absolute POSIX, so lands here.
    if (!path.posix.isAbsolute(requested)) return refuse(field, 'relative path');
    if (isForbiddenPosix(requested)) return refuse(field, 'forbidden system path');

    let real: string;
    try {
      real = await realpath(requested);
    } catch (err) {
      return refuse(field, `does not resolve (${errorCode(err)})`);
    }
    if (isForbiddenPosix(real)) return refuse(field, 'resolves to a forbidden system path');
    if (!insideRoots(real, roots)) return refuse(field, 'resolves outside the allowlist');

    let before: Stats;
    try {
      before = await lstat(real);
    } catch (err) {
      return refuse(field, `vanished before opening (${errorCode(err)})`);
    }
    // Refuse devices, FIFOs and sockets before opening: opening some devices has side effects.
    if (!before.isFile()) return refuse(field, 'not a regular file');

    let handle: FileHandle;
    try {
      handle = await open(real, OPEN_FLAGS);
    } catch (err) {
      return refuse(field, `open failed (${errorCode(err)})`);
    }
    const refuseAndClose = async (reason: string): Promise<AttachmentRefusal> => {
      await handle.close().catch(() => undefined);
      return refuse(field, reason);
    };
    try {
      const opened = await handle.stat();
      if (!opened.isFile()) return await refuseAndClose('not a regular file');
      // The path may have been swapped between the checks and the open: insist it is the same file.
      if (opened.dev !== before.dev || opened.ino !== before.ino) return await refuseAndClose('changed while opening');
      // A parent directory swapped for a symlink at just the wrong moment would pass the dev/ino test
      // (lstat and open would both follow it); the kernel's own name for the fd settles it.
      const actual = await pathOfHandle(handle);
      if (actual !== undefined && actual !== real) return await refuseAndClose('changed while opening');
      return { ok: true, handle, size: opened.size, realPath: real, baseName: path.posix.basename(requested) };
    } catch (err) {
      return await refuseAndClose(`stat failed (${errorCode(err)})`);
    }
  }

  return { roots, open: openChecked };
}
