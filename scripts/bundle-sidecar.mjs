/**
 * The sidecar as it ships: `dist/sidecar/sidecar.js`, one ES module bundled by esbuild from what tsc
 * emitted (`dist/sidecar/main.js` and everything it imports), whitespace and syntax minified (names
 * kept, so stack traces and logs still read).
 *
 * Why: the sidecar is one long-running process, and most of what it held at idle beyond Baileys was
 * its modules' code: source text, one record and scope per module, compiled functions. Unbundled, its
 * imports held 28.8 MiB of heap; bundled, about 25 (zod's 64 locales are dropped; the rest of the
 * saving is fewer, smaller modules, not code removed: the Azure SDK's XML and proxy code stay in).
 * Baileys stays outside, with what it loads itself too (ws, pino, lru-cache), so nothing is loaded
 * twice. Run by `npm run build` and by `npm test` after tsc.
 */
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await build({
  entryPoints: [path.join(root, 'dist', 'sidecar', 'main.js')],
  outfile: path.join(root, 'dist', 'sidecar', 'sidecar.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  // Short lines: an uncaught error prints its source line, and a minified one would be the whole program.
  lineLimit: 100,
  sourcemap: 'linked',
  external: ['@whiskeysockets/baileys', 'ws', 'pino', 'lru-cache'],
  // CommonJS dependencies inside an ES module bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
