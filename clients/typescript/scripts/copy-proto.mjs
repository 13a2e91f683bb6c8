// Copies the repository's protos/dfbnet/v1/dfbnet.proto into the package (proto/), so that the published package carries
// the exact API it was built against. The repository's protos/ folder stays the one source of truth.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(packageRoot, '..', '..', 'protos', 'dfbnet', 'v1', 'dfbnet.proto');
const target = join(packageRoot, 'proto', 'dfbnet', 'v1', 'dfbnet.proto');
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, target);
console.log(`copied ${source} -> ${target}`);
