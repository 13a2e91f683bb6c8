import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DfbNetClient, ImageInput } from '@dfbnet/client';
import { cifarRgb, startServer } from '../test-support/server.mjs';

// The server ends each stream after DfbNet:MaxStreamSeconds (here 0.5 s) with UNAVAILABLE, once it has answered every
// frame it took, so that clients spread over the pods behind a balancer. The SDK treats that as a clean move.
describe('a server with a stream lifetime', () => {
  let server;

  before(async () => {
    server = await startServer({ args: ['--DfbNet:MaxStreamSeconds=0.5'] });
  });

  after(async () => {
    await server?.stop();
  });

  test('stream: across several lifetime ends, the client reconnects and every frame ends once', async () => {
    const client = new DfbNetClient({ address: server.address, maxStreamReconnects: 3 });
    const count = 120;
    async function* frames() {
      for (let i = 0; i < count; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        yield { id: `f${i}`, image: ImageInput.fromRgb(cifarRgb(i % 10), 32, 32) };
      }
    }
    const finals = new Map();
    try {
      for await (const e of client.stream(frames())) {
        if (e.event.final) {
          finals.set(e.frame.id, (finals.get(e.frame.id) ?? 0) + 1);
        }
      }
    } finally {
      client.close();
    }
    assert.equal(finals.size, count);
    assert.ok([...finals.values()].every((n) => n === 1), 'a frame ended twice');
  });
});
