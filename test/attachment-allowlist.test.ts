/**
 * The allowlist against a real file tree: real symlinks, a FIFO, a unix socket, a directory,
 * devices and system files, plus a table of hostile paths. Every refusal must carry the uniform
 * message, and the log must get a reason but never the path.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  createAttachmentAllowlist,
  type AttachmentAllowlist,
  type AttachmentField,
  type OpenedAttachment,
} from '../functions/attachment-allowlist.js';

interface LogEntry {
  obj: object;
  msg: string;
}

// Created at load time so test.each tables can name the paths; realpath'd because os.tmpdir()
// may itself sit behind a symlink.
const TMP = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'wa-allow-')));
const ROOT = path.join(TMP, 'att');
const OUTSIDE = path.join(TMP, 'outside');
const SECRET = path.join(OUTSIDE, 'secret.txt');
const REAL_ROOT = path.join(TMP, 'real-root');
const ROOT_LINK = path.join(TMP, 'root-link');
const HELLO = path.join(ROOT, 'hello.txt');
const DOTS_ONE_LEADER = '\u2024\u2024';
const DOTS_FULLWIDTH = '\uff0e\uff0e';

const logs: LogEntry[] = [];

const log = { warn: (obj: object, msg: string) => void logs.push({ obj, msg }) };
let allowlist: AttachmentAllowlist;
let socketServer: net.Server;

beforeAll(async () => {
  mkdirSync(path.join(ROOT, 'sub'), { recursive: true });
  mkdirSync(path.join(ROOT, 'dir'));
  mkdirSync(path.join(ROOT, '%2e%2e'));
  mkdirSync(OUTSIDE);
  mkdirSync(path.join(TMP, 'attic'));
  mkdirSync(REAL_ROOT);
  writeFileSync(HELLO, 'hello world');
  writeFileSync(path.join(ROOT, 'sub', 'report.pdf'), '%PDF-1.7 tiny');
  writeFileSync(path.join(ROOT, '%2e%2e', 'file.txt'), 'literal percent dir');
  writeFileSync(path.join(ROOT, DOTS_ONE_LEADER), 'one-dot leaders');
  writeFileSync(path.join(ROOT, DOTS_FULLWIDTH), 'fullwidth dots');
  writeFileSync(path.join(ROOT, 'empty.txt'), '');
  writeFileSync(SECRET, 'top secret');
  writeFileSync(path.join(TMP, 'attic', 'x.txt'), 'sibling');
  writeFileSync(path.join(REAL_ROOT, 'a.txt'), 'via a linked root');
  symlinkSync('hello.txt', path.join(ROOT, 'link-inside'));
  symlinkSync(path.join(ROOT, 'sub'), path.join(ROOT, 'sub-link'));
  symlinkSync(SECRET, path.join(ROOT, 'link-outside'));
  symlinkSync(OUTSIDE, path.join(ROOT, 'escape-dir'));
  symlinkSync('/etc/passwd', path.join(ROOT, 'link-etc'));
  symlinkSync('/etc', path.join(ROOT, 'etc-dir'));
  symlinkSync('/proc/self/environ', path.join(ROOT, 'link-environ'));
  symlinkSync('/dev/null', path.join(ROOT, 'link-null'));
  symlinkSync(path.join(TMP, 'nope'), path.join(ROOT, 'dangling'));
  symlinkSync('loop-b', path.join(ROOT, 'loop-a'));
  symlinkSync('loop-a', path.join(ROOT, 'loop-b'));
  symlinkSync('fifo', path.join(ROOT, 'link-fifo'));
  symlinkSync(REAL_ROOT, ROOT_LINK);
  execFileSync('mkfifo', [path.join(ROOT, 'fifo')]);
  socketServer = net.createServer();
  await new Promise<void>((resolve, reject) => {
    socketServer.once('error', reject);
    socketServer.listen(path.join(ROOT, 'sock'), resolve);
  });
  allowlist = await createAttachmentAllowlist({ roots: [ROOT], log });
});

afterAll(async () => {
  await new Promise<void>((resolve) => socketServer.close(() => resolve()));
  rmSync(TMP, { recursive: true, force: true });
});

beforeEach(() => {
  logs.length = 0;
});

async function expectOpened(
  result: Awaited<ReturnType<AttachmentAllowlist['open']>>,
  expected: { realPath: string; baseName: string; content: string },
): Promise<void> {
  expect(result.ok).toBe(true);
  const opened = result as OpenedAttachment;
  try {
    expect(opened.realPath).toBe(expected.realPath);
    expect(opened.baseName).toBe(expected.baseName);
    expect(opened.size).toBe(Buffer.byteLength(expected.content));
    expect((await opened.handle.readFile()).toString()).toBe(expected.content);
  } finally {
    await opened.handle.close();
  }
}

/** Refused with exactly the uniform body, and one log line with a reason that names no path. */
async function expectRefused(list: AttachmentAllowlist, field: AttachmentField, requested: string): Promise<string> {
  logs.length = 0;
  const result = await list.open(field, requested);
  if (result.ok) await result.handle.close();
  expect(result).toEqual({ ok: false, message: `${field} is not allowed` });
  expect(logs).toHaveLength(1);
  const entry = logs[0]!;
  expect(entry.msg).toBe('attachment refused');
  expect(Object.keys(entry.obj).sort()).toEqual(['field', 'reason']);
  const { field: loggedField, reason } = entry.obj as { field: unknown; reason: unknown };
  expect(loggedField).toBe(field);
  expect(typeof reason).toBe('string');
  expect((reason as string).length).toBeGreaterThan(0);
  const serialised = JSON.stringify(entry);
  // The reason must not carry the path, or any path: no separators, no temp dir, no request text.
  expect(reason).not.toMatch(/[/\\]/);
  expect(serialised).not.toContain(TMP);
  if (typeof requested === 'string' && requested.trim().length >= 4)
    expect(serialised).not.toContain(JSON.stringify(requested).slice(1, -1));
  return reason as string;
}

describe('allowed paths', () => {
  test('a regular file inside the root opens, with size, realPath, baseName and a readable handle', async () => {
    await expectOpened(await allowlist.open('document_path', HELLO), { realPath: HELLO, baseName: 'hello.txt', content: 'hello world' });
    expect(logs).toEqual([]);
  });

  test('both fields are accepted, and a nested file too', async () => {
    const pdf = path.join(ROOT, 'sub', 'report.pdf');
    await expectOpened(await allowlist.open('image_path', pdf), { realPath: pdf, baseName: 'report.pdf', content: '%PDF-1.7 tiny' });
  });

  test('an empty regular file opens with size 0', async () => {
    const empty = path.join(ROOT, 'empty.txt');
    await expectOpened(await allowlist.open('document_path', empty), { realPath: empty, baseName: 'empty.txt', content: '' });
  });

  test('a symlink inside → inside opens the target; baseName is the name the client gave', async () => {
    await expectOpened(await allowlist.open('document_path', path.join(ROOT, 'link-inside')), {
      realPath: HELLO,
      baseName: 'link-inside',
      content: 'hello world',
    });
  });

  test('a symlinked parent directory that stays inside the root is fine', async () => {
    await expectOpened(await allowlist.open('document_path', path.join(ROOT, 'sub-link', 'report.pdf')), {
      realPath: path.join(ROOT, 'sub', 'report.pdf'),
      baseName: 'report.pdf',
      content: '%PDF-1.7 tiny',
    });
  });

  test('`.` segments and doubled slashes are harmless', async () => {
    await expectOpened(await allowlist.open('document_path', `${ROOT}/./hello.txt`), {
      realPath: HELLO,
      baseName: 'hello.txt',
      content: 'hello world',
    });
    await expectOpened(await allowlist.open('document_path', `${ROOT}//hello.txt`), {
      realPath: HELLO,
      baseName: 'hello.txt',
      content: 'hello world',
    });
  });

  test('percent-encoded dots are literal names, not decoded', async () => {
    const file = path.join(ROOT, '%2e%2e', 'file.txt');
    await expectOpened(await allowlist.open('document_path', file), {
      realPath: file,
      baseName: 'file.txt',
      content: 'literal percent dir',
    });
  });

  test('unicode look-alike dots are literal names', async () => {
    for (const [name, content] of [
      [DOTS_ONE_LEADER, 'one-dot leaders'],
      [DOTS_FULLWIDTH, 'fullwidth dots'],
    ] as const) {
      const file = path.join(ROOT, name);
      await expectOpened(await allowlist.open('document_path', file), { realPath: file, baseName: name, content });
    }
  });

  test('a root reached through a symlink works, by either spelling', async () => {
    const list = await createAttachmentAllowlist({ roots: [ROOT_LINK], log });
    expect(list.roots).toEqual([REAL_ROOT]);
    const real = path.join(REAL_ROOT, 'a.txt');
    await expectOpened(await list.open('document_path', path.join(ROOT_LINK, 'a.txt')), {
      realPath: real,
      baseName: 'a.txt',
      content: 'via a linked root',
    });
    await expectOpened(await list.open('document_path', real), { realPath: real, baseName: 'a.txt', content: 'via a linked root' });
  });

  test('a root with a trailing slash, and several roots, each admit their own files', async () => {
    const list = await createAttachmentAllowlist({ roots: [`${ROOT}/`, path.join(TMP, 'attic')], log });
    await expectOpened(await list.open('document_path', HELLO), { realPath: HELLO, baseName: 'hello.txt', content: 'hello world' });
    const x = path.join(TMP, 'attic', 'x.txt');
    await expectOpened(await list.open('document_path', x), { realPath: x, baseName: 'x.txt', content: 'sibling' });
  });
});

describe('creation', () => {
  test('a root that does not exist yet is created (mkdir -p)', async () => {
    const fresh = path.join(TMP, 'fresh', 'db', 'attachments');
    const list = await createAttachmentAllowlist({ roots: [fresh], log });
    expect(list.roots).toEqual([fresh]);
    expect(readdirSync(fresh)).toEqual([]);
  });

  test.each(['relative/att', 'att', './att', '', 'C:\\attachments'])(
    'a root that is not absolute (%j) is a configuration error',
    async (root) => {
      await expect(createAttachmentAllowlist({ roots: [root], log })).rejects.toThrow(/not an absolute path/);
    },
  );

  test('a root that is a file, or under a file, is a configuration error', async () => {
    await expect(createAttachmentAllowlist({ roots: [HELLO], log })).rejects.toThrow(/cannot be created or resolved \(EEXIST\)/);
    await expect(createAttachmentAllowlist({ roots: [path.join(HELLO, 'x')], log })).rejects.toThrow(
      /cannot be created or resolved \(ENOTDIR\)/,
    );
  });

  test('a symlink to a file given as a root is a configuration error', async () => {
    await expect(createAttachmentAllowlist({ roots: [path.join(ROOT, 'link-inside')], log })).rejects.toThrow(
      /cannot be created or resolved \(EEXIST\)/,
    );
  });

  test('the same root twice counts once', async () => {
    const list = await createAttachmentAllowlist({ roots: [ROOT, `${ROOT}/`, ROOT], log });
    expect(list.roots).toEqual([ROOT]);
  });

  test('no roots admits nothing', async () => {
    const list = await createAttachmentAllowlist({ roots: [], log });
    expect(await expectRefused(list, 'document_path', HELLO)).toBe('resolves outside the allowlist');
  });

  test('a root under a forbidden system directory is warned about and admits nothing', async () => {
    logs.length = 0;
    const list = await createAttachmentAllowlist({ roots: ['/etc'], log });
    expect(logs.map((l) => l.msg)).toEqual([expect.stringMatching(/forbidden system directory/)]);
    await expectRefused(list, 'document_path', '/etc/hostname');
  });
});

describe('refused paths', () => {
  const hostile: Array<[string, string]> = [
    // relative and empty
    ['relative name', 'hello.txt'],
    ['relative path', 'att/hello.txt'],
    ['dot-relative', './hello.txt'],
    ['empty string', ''],
    ['a space', ' '],
    ['tilde home', '~/hello.txt'],
    ['tilde user', '~root/.ssh/id_rsa'],
    ['file URL', `file://${HELLO}`],
    // `..` segments, either separator, even when they would land back inside
    ['.. out of the root', `${ROOT}/../outside/secret.txt`],
    ['.. that lands back inside', `${ROOT}/sub/../hello.txt`],
    ['trailing ..', `${ROOT}/..`],
    ['leading /..', '/../etc/passwd'],
    ['.. after .', `${ROOT}/./../outside/secret.txt`],
    ['backslash ..', `${ROOT}\\..\\outside\\secret.txt`],
    ['mixed separators ..', `${ROOT}/sub\\..\\..\\outside/secret.txt`],
    ['.. as a backslash segment at the end', `${ROOT}/sub\\..`],
    ['many ..', `${ROOT}/../../../../../../etc/passwd`],
    // NUL bytes
    ['NUL extension trick', `${HELLO}\0.jpg`],
    ['trailing NUL', `${HELLO}\0`],
    ['only NUL', '\0'],
    // system directories, requested directly
    ['/etc/passwd', '/etc/passwd'],
    ['/etc/shadow', '/etc/shadow'],
    ['/etc itself', '/etc'],
    ['/etc/ with slash', '/etc/'],
    ['doubled leading slash', '//etc/passwd'],
    ['dot segment before etc', '/./etc/passwd'],
    ['upper-case ETC', '/ETC/passwd'],
    ['/proc/self/environ', '/proc/self/environ'],
    ['/proc/self/fd/0', '/proc/self/fd/0'],
    ['/proc/1/cmdline', '/proc/1/cmdline'],
    ['/sys file', '/sys/kernel/notes'],
    ['/root/.ssh key', '/root/.ssh/id_rsa'],
    ['/root itself', '/root'],
    ['/var/log file', '/var/log/syslog'],
    ['/var//log spelled with a double slash', '/var//log/auth.log'],
    ['/dev/null', '/dev/null'],
    ['/dev/zero', '/dev/zero'],
    ['/dev/stdin', '/dev/stdin'],
    ['filesystem root', '/'],
    // Windows
    ['C:\\Windows SAM', 'C:\\Windows\\System32\\config\\SAM'],
    ['c:/windows forward slashes', 'c:/windows/win.ini'],
    ['C:\\WINDOWS upper-case', 'C:\\WINDOWS\\system.ini'],
    ['\\\\?\\ device prefix', '\\\\?\\C:\\Windows\\System32\\drivers\\etc\\hosts'],
    ['\\\\.\\ device prefix', '\\\\.\\C:\\Windows\\win.ini'],
    ['C:\\Users\\Default', 'C:\\Users\\Default\\NTUSER.DAT'],
    ['c:/users/default lower-case', 'c:/users/default'],
    ['mixed separators Users\\Default', 'C:/Users\\Default/AppData/x'],
    ['UNC share', '\\\\server\\share\\file.txt'],
    ['other drive', 'D:\\data\\file.pdf'],
    ['drive-relative', 'C:file.txt'],
    ['rooted without drive', '\\Windows\\win.ini'],
    // symlinks that escape
    ['symlink to a file outside', path.join(ROOT, 'link-outside')],
    ['symlinked parent directory escaping', path.join(ROOT, 'escape-dir', 'secret.txt')],
    ['symlink to /etc/passwd', path.join(ROOT, 'link-etc')],
    ['symlinked /etc as a parent', path.join(ROOT, 'etc-dir', 'passwd')],
    ['symlink to /proc/self/environ', path.join(ROOT, 'link-environ')],
    ['symlink to /dev/null', path.join(ROOT, 'link-null')],
    ['dangling symlink', path.join(ROOT, 'dangling')],
    ['symlink loop', path.join(ROOT, 'loop-a')],
    // not regular files
    ['FIFO', path.join(ROOT, 'fifo')],
    ['symlink to a FIFO', path.join(ROOT, 'link-fifo')],
    ['unix socket', path.join(ROOT, 'sock')],
    ['directory', path.join(ROOT, 'dir')],
    ['the root itself', ROOT],
    ['the root with a slash', `${ROOT}/`],
    // missing
    ['nonexistent file', path.join(ROOT, 'nope.txt')],
    ['file used as a directory', `${HELLO}/x`],
    ['file with a trailing slash', `${HELLO}/`],
    // outside, and the sibling-prefix trap
    ['a file outside every root', SECRET],
    ['sibling sharing the root as a prefix', path.join(TMP, 'attic', 'x.txt')],
    ['the temp dir itself', TMP],
    // encoded and look-alike dots stay literal, so they escape nothing
    ['percent-encoded ..', `${ROOT}/%2e%2e/%2e%2e/outside/secret.txt`],
    ['percent-encoded slash', `${ROOT}/..%2f..%2foutside%2fsecret.txt`],
    ['double percent-encoding', `${ROOT}/%252e%252e/outside/secret.txt`],
    ['one-dot leaders', `${ROOT}/${DOTS_ONE_LEADER}/outside/secret.txt`],
    ['fullwidth dots', `${ROOT}/${DOTS_FULLWIDTH}/${DOTS_FULLWIDTH}/outside/secret.txt`],
    ['two-dot leader', `${ROOT}/\u2025/outside/secret.txt`],
    ['fullwidth dots and solidus', `${ROOT}/${DOTS_FULLWIDTH}\uff0foutside`],
    ['overlong UTF-8 dot text', `${ROOT}/%c0%ae%c0%ae/outside/secret.txt`],
  ];

  test('the table is large enough', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(50);
  });

  test.each(hostile)('%s → refused with the uniform message for both fields', async (_name, requested) => {
    for (const field of ['image_path', 'document_path'] as const) await expectRefused(allowlist, field, requested);
  });

  test('the reasons distinguish the rules (spot checks)', async () => {
    expect(await expectRefused(allowlist, 'document_path', 'rel.txt')).toBe('relative path');
    expect(await expectRefused(allowlist, 'document_path', `${ROOT}/../x`)).toBe('dot-dot segment');
    expect(await expectRefused(allowlist, 'document_path', `${HELLO}\0`)).toBe('NUL byte');
    expect(await expectRefused(allowlist, 'document_path', '/etc/passwd')).toBe('forbidden system path');
    expect(await expectRefused(allowlist, 'document_path', 'C:\\Windows\\win.ini')).toBe('Windows system path');
    expect(await expectRefused(allowlist, 'document_path', path.join(ROOT, 'link-etc'))).toBe('resolves to a forbidden system path');
    expect(await expectRefused(allowlist, 'document_path', path.join(ROOT, 'link-outside'))).toBe('resolves outside the allowlist');
    expect(await expectRefused(allowlist, 'document_path', path.join(TMP, 'attic', 'x.txt'))).toBe('resolves outside the allowlist');
    expect(await expectRefused(allowlist, 'document_path', path.join(ROOT, 'nope.txt'))).toBe('does not resolve (ENOENT)');
    expect(await expectRefused(allowlist, 'document_path', path.join(ROOT, 'fifo'))).toBe('not a regular file');
    expect(await expectRefused(allowlist, 'document_path', path.join(ROOT, 'sock'))).toBe('not a regular file');
    expect(await expectRefused(allowlist, 'document_path', path.join(ROOT, 'dir'))).toBe('not a regular file');
  });

  test('a device inside a root is refused as not a regular file', async () => {
    const dev = await createAttachmentAllowlist({ roots: ['/dev'], log });
    expect(await expectRefused(dev, 'document_path', '/dev/null')).toBe('not a regular file');
    expect(await expectRefused(dev, 'document_path', '/dev/zero')).toBe('not a regular file');
  });

  test('a FIFO never blocks, and refusals leave no file descriptor open', async () => {
    const dev = await createAttachmentAllowlist({ roots: ['/dev'], log });
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    let worst = 0;
    // Counted after every refusal: Node closes a forgotten FileHandle on garbage collection, which
    // would hide a leak from a single count at the end.
    for (let i = 0; i < 20; i++) {
      for (const [list, requested] of [
        [allowlist, path.join(ROOT, 'fifo')],
        [allowlist, path.join(ROOT, 'sock')],
        [allowlist, path.join(ROOT, 'dir')],
        [dev, '/dev/null'],
      ] as const) {
        await expectRefused(list, 'document_path', requested);
        worst = Math.max(worst, fds() - before);
      }
    }
    expect(worst).toBeLessThan(3);
  });

  test('a parent directory swapped for an escaping symlink mid-check never yields the outside file', async () => {
    // A real concurrent attacker: a shell loop flips race/ between a directory inside the root and a
    // symlink to a directory outside it, while we keep opening race/f.txt.
    const evil = path.join(TMP, 'evil');
    mkdirSync(evil);
    writeFileSync(path.join(evil, 'f.txt'), 'OUTSIDE');
    mkdirSync(path.join(ROOT, 'race'));
    writeFileSync(path.join(ROOT, 'race', 'f.txt'), 'inside');
    const script = `const fs = require('node:fs');
      const [root, evil] = process.argv.slice(1);
      const race = root + '/race', hold = root + '/hold';
      for (;;) { fs.renameSync(race, hold); fs.symlinkSync(evil, race); fs.unlinkSync(race); fs.renameSync(hold, race); }`;
    const attacker = spawn(process.execPath, ['-e', script, ROOT, evil], { stdio: 'ignore' });
    const outcomes = { opened: 0, refused: 0 };
    try {
      for (let i = 0; i < 1000; i++) {
        const result = await allowlist.open('document_path', path.join(ROOT, 'race', 'f.txt'));
        if (!result.ok) {
          outcomes.refused++;
          continue;
        }
        outcomes.opened++;
        try {
          expect(result.realPath).toBe(path.join(ROOT, 'race', 'f.txt'));
          expect((await result.handle.readFile()).toString()).toBe('inside');
        } finally {
          await result.handle.close();
        }
      }
    } finally {
      attacker.kill('SIGKILL');
    }
    expect(outcomes.opened + outcomes.refused).toBe(1000);
    for (const entry of logs) expect(JSON.stringify(entry)).not.toContain(TMP);
  });

  test('a value that is not a string is refused, not thrown on', async () => {
    for (const value of [undefined, null, 42, ['/x'], { path: HELLO }]) {
      await expectRefused(allowlist, 'document_path', value as unknown as string);
    }
  });
});
