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

test('the live camera example runs against a real server: every frame ends once, through one stream call', async () => {
  const image = writePng(server.root, 6);
  const { stdout } = await promisify(execFile)(process.execPath, [join(packageRoot, 'build', 'examples', 'live-camera.js'), image, '30'], {
    env: { ...process.env, DFBNET_ADDRESS: server.address },
  });
  const summary = /^finals: (.*); calls: (.*)$/m.exec(stdout);
  assert.ok(summary, stdout);
  const finals = Object.fromEntries(summary[1].split(', ').map((entry) => entry.split(' ')).map(([kind, n]) => [kind, Number(n)]));
  assert.equal(Object.values(finals).reduce((a, b) => a + b, 0), 30, summary[1]);
  assert.ok(Object.keys(finals).every((kind) => ['EARLY_EXIT', 'FUSED', 'BUDGET_CUT', 'DROPPED'].includes(kind)), summary[1]);
  assert.equal(summary[2], '/dfbnet.v1.DfbNet/ClassifyStream 1');
  assert.match(stdout, /^cam-0 (EARLY_EXIT|FUSED|BUDGET_CUT) \w+ after [\d.]+ ms \(queued [\d.]+ ms\)$/m);
});
