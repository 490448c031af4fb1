// `npm run openapi`: writes docs/openapi.json from the zod schemas (via the compiled
// shared/openapi.js; the npm script compiles first). test/openapi.test.ts fails when the checked-in
// file differs from a fresh one, so run this after changing a request or response schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { openApiJson } = await import(path.join(root, 'dist', 'shared', 'openapi.js'));
const target = path.join(root, 'docs', 'openapi.json');
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, openApiJson());
console.log(`wrote ${path.relative(root, target)}`);
