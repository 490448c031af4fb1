/** The README's Layout section names files that exist, and every top-level folder it maps. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const section = /\n## Layout\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';

describe('README Layout', () => {
  test('is there', () => {
    expect(section).toContain('| folder |');
  });

  test('every file it names exists in the folder of its row', () => {
    const missing: string[] = [];
    for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
      const folders = [...row.split('|')[1]!.matchAll(/`([^`]+)\/`/g)].map((m) => m[1]!);
      for (const [, name] of row.split('|')[2]!.matchAll(/`([^`]+)`/g)) {
        const candidates = name!.includes('/')
          ? [name!, ...folders.map((f) => path.join(f, name!))]
          : folders.map((f) => path.join(f, name!));
        if (!candidates.some((c) => existsSync(path.join(root, c)))) missing.push(`${name} (in ${folders.join(', ')})`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('every source folder is mapped', () => {
    for (const folder of ['functions', 'sidecar', 'shared', 'client', 'cli', 'test', 'bench', 'scripts', 'docs']) {
      expect(section).toContain(`\`${folder}/\``);
    }
  });
});
