import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot, repoRoot, startServer, writePng } from '../test-support/server.mjs';

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

test('the quick start example runs against a real server', async () => {
  const image = writePng(server.root, 5);
  const { stdout } = await promisify(execFile)(process.execPath, [join(packageRoot, 'build', 'examples', 'quickstart.js'), image], {
    env: { ...process.env, DFBNET_ADDRESS: server.address },
  });
  assert.match(stdout, /^model default: 3 exits, classes airplane, automobile, bird, cat/m);
  assert.match(stdout, /^answer: \w+ [01]\.\d{3} \((EARLY_EXIT|FUSED) at exit \d, \d events\)$/m);
  for (let i = 0; i < 3; i++) {
    assert.equal(stdout.split('\n').filter((l) => l.startsWith(`frame-${i} `) && l.includes('final after')).length, 1);
    assert.match(stdout, new RegExp(`^frame-${i} exit 0 FUSED \\w+ final after`, 'm'));
  }
});

test('docs/SDK.md shows the quick start example as it is', () => {
  const example = readFileSync(join(packageRoot, 'examples', 'quickstart.ts'), 'utf8').trim();
  const docs = readFileSync(join(repoRoot, 'docs', 'SDK.md'), 'utf8');
  assert.ok(docs.includes('```ts\n' + example + '\n```'), 'docs/SDK.md must contain clients/typescript/examples/quickstart.ts verbatim in a ```ts block');
});
