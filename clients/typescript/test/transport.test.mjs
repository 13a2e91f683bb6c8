// Which failures are transient, as in the .NET SDK: UNAVAILABLE, and INTERNAL only where grpc-js reports a transport
// break (an HTTP/2 stream reset without a gRPC status), never a server's own INTERNAL status. The breaks come from an
// HTTP/2 proxy in front of a real server (test-support/h2-proxy.mjs) that resets chosen calls or answers them itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DfbNetClient, ImageInput, status } from '@dfbnet/client';
import { startProxy } from '../test-support/h2-proxy.mjs';
import { cifarRgb, startServer } from '../test-support/server.mjs';

delete process.env.DFBNET_API_KEY;

const image = ImageInput.fromRgb(cifarRgb(3), 32, 32);
const frames = (count) => Array.from({ length: count }, (_, i) => ({ id: `t${i}`, image: ImageInput.fromRgb(cifarRgb(i), 32, 32) }));
const rstInternal = (e) => e.code === status.INTERNAL && /^Received RST_STREAM with code 2/.test(e.details);
const fast = { retryDelayMs: 20, maxRetryDelayMs: 50, timeoutMs: 20_000 };

async function collect(iterable) {
  const events = [];
  for await (const e of iterable) events.push(e);
  return events;
}

describe('transient failures through a proxy that breaks calls', () => {
  let server;
  let upstream;
  const proxies = [];

  before(async () => {
    server = await startServer();
    upstream = server.address.replace(/^http:\/\//, '');
  });

  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await server?.stop();
  });

  /** A proxy whose call `index` is answered with `actions[index]` (forwarded where none); and a client through it. */
  async function through(actions, options = {}) {
    const proxy = await startProxy(upstream, ({ index }) => actions[index]);
    proxies.push(proxy);
    return { proxy, client: new DfbNetClient({ address: proxy.address, ...fast, ...options }) };
  }

  test('grpc-js reports a stream reset under a call as INTERNAL "Received RST_STREAM with code 2 ..."; classify retries it', async () => {
    const once = await through([{ reset: 2 }], { maxRetries: 0 });
    try {
      await assert.rejects(once.client.classify(image), rstInternal);
      assert.equal(once.proxy.calls.length, 1);
    } finally {
      once.client.close();
    }

    const retried = await through([{ reset: 2 }, { reset: 2 }]);
    try {
      const result = await retried.client.classify(image);
      assert.equal(result.answer.final, true);
      assert.equal(retried.proxy.calls.length, 3);
      assert.equal((await retried.client.getModelInfo()).name, 'default');
    } finally {
      retried.client.close();
    }
  });

  test('a stream reset mid-stream (INTERNAL, no status) is reconnected: the unanswered frames are resent and each frame ends once', async () => {
    const count = 12;
    const once = await through([{ resetAfterMessages: 1 }], { maxStreamReconnects: 0 });
    try {
      await assert.rejects(collect(once.client.stream(frames(count), { mode: 'full' })), rstInternal);
    } finally {
      once.client.close();
    }

    const reconnected = await through([{ resetAfterMessages: 2 }]);
    try {
      const events = await collect(reconnected.client.stream(frames(count), { mode: 'full' }));
      const finals = events.filter((e) => e.event.final);
      assert.deepEqual(finals.map((e) => e.frame.id).sort(), frames(count).map((f) => f.id).sort());
      assert.ok(finals.every((e) => e.event.kind === 'FUSED'));
      assert.ok(events.some((e) => e.resent), 'the frames in flight at the reset were resent');
      assert.deepEqual(reconnected.proxy.calls.map((c) => c.path), ['/dfbnet.v1.DfbNet/ClassifyStream', '/dfbnet.v1.DfbNet/ClassifyStream']);
    } finally {
      reconnected.client.close();
    }
  });

  test("a server's own INTERNAL status is final: neither retried nor reconnected", async () => {
    const internal = { status: status.INTERNAL, message: 'boom' };
    const { proxy, client } = await through([internal, internal, internal, internal]);
    try {
      await assert.rejects(client.classify(image), (e) => e.code === status.INTERNAL && e.details === 'boom');
      assert.equal(proxy.calls.length, 1);
      await assert.rejects(collect(client.stream(frames(2))), (e) => e.code === status.INTERNAL && e.details === 'boom');
      assert.equal(proxy.calls.length, 2);
    } finally {
      client.close();
    }
  });

  test('RESOURCE_EXHAUSTED is retried and reconnected only with retryResourceExhausted', async () => {
    const exhausted = { status: status.RESOURCE_EXHAUSTED, message: 'rate limited' };
    const plain = await through([exhausted, exhausted]);
    try {
      await assert.rejects(plain.client.classify(image), (e) => e.code === status.RESOURCE_EXHAUSTED);
      await assert.rejects(collect(plain.client.stream(frames(2))), (e) => e.code === status.RESOURCE_EXHAUSTED);
      assert.equal(plain.proxy.calls.length, 2);
    } finally {
      plain.client.close();
    }

    const retrying = await through([exhausted, undefined, exhausted], { retryResourceExhausted: true });
    try {
      assert.equal((await retrying.client.classify(image)).answer.final, true);
      assert.equal((await collect(retrying.client.stream(frames(3)))).filter((e) => e.event.final).length, 3);
      assert.equal(retrying.proxy.calls.length, 4);
    } finally {
      retrying.client.close();
    }
  });
});

describe('a server killed mid-stream', () => {
  let server;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
  });

  test('breaks the call with UNAVAILABLE, which a stream reconnects after (here with reconnection off, it is the error)', async () => {
    const client = new DfbNetClient({ address: server.address, maxStreamReconnects: 0 });
    let restart;
    try {
      await assert.rejects(async () => {
        async function* endless() {
          for (let i = 0; ; i++) yield { id: `k${i}`, image: ImageInput.fromRgb(cifarRgb(i % 200), 32, 32) };
        }
        let finals = 0;
        for await (const e of client.stream(endless(), { mode: 'full' })) {
          if (e.event.final && ++finals === 5) restart = server.restart();
        }
      }, (e) => e.code === status.UNAVAILABLE);
    } finally {
      client.close();
      await restart;
    }
  });
});
