// Stream and channel options against real servers: the enum spelling, the frames in flight, the queue policy (LATEST:
// live cameras), alwaysAnswer and per-frame budgets, grpc-js channel options and interceptors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DfbNetClient, ExitKind, ImageInput, InferenceMode, InterceptingCall, QueuePolicy, status } from '@dfbnet/client';
import { cifarRgb, startServer } from '../test-support/server.mjs';

delete process.env.DFBNET_API_KEY;

const image = ImageInput.fromRgb(cifarRgb(3), 32, 32);
const classifyPath = '/dfbnet.v1.DfbNet/Classify';
const getModelInfoPath = '/dfbnet.v1.DfbNet/GetModelInfo';
const streamPath = '/dfbnet.v1.DfbNet/ClassifyStream';
/** A budget far too short for exit 1 (1 µs). */
const hopeless = 0.001;

/** Every event of a stream, collected. */
async function collect(iterable) {
  const events = [];
  for await (const e of iterable) events.push(e);
  return events;
}

/** An interceptor that records each call (its method path and metadata) and, on streams, the most frames in flight
 * (frames sent minus final events received, as the wire sees them) and the options message sent first. */
function recorder() {
  const record = { calls: [], maxInFlight: 0, streamOptions: [] };
  const interceptor = (options, nextCall) => {
    const call = { path: options.method_definition.path, metadata: undefined };
    record.calls.push(call);
    let sent = 0;
    let finals = 0;
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        call.metadata = metadata.getMap();
        next(metadata, {
          onReceiveMessage(message, nextMessage) {
            if (message?.final) finals++;
            nextMessage(message);
          },
        });
      },
      sendMessage(message, next) {
        if (call.path === streamPath) {
          if (message.options) record.streamOptions.push(message.options);
          if (message.frame) record.maxInFlight = Math.max(record.maxInFlight, ++sent - finals);
        } else if (message.options) {
          record.streamOptions.push(message.options);
        }
        next(message);
      },
    });
  };
  return { record, interceptor };
}

describe('option checks (no server)', () => {
  // Nothing listens there: a call that got past the checks would fail with UNAVAILABLE, not the TypeError expected.
  const address = '127.0.0.1:1';

  test('every string enum is SCREAMING_SNAKE_CASE, exported as a frozen object of its values', () => {
    assert.deepEqual({ ...InferenceMode }, { FIRST_EXIT: 'FIRST_EXIT', REFINE: 'REFINE', FULL: 'FULL' });
    assert.deepEqual({ ...QueuePolicy }, { QUEUE: 'QUEUE', LATEST: 'LATEST' });
    assert.deepEqual(Object.values(ExitKind), ['BELOW_THRESHOLD', 'EARLY_EXIT', 'REFINEMENT', 'FUSED', 'BUDGET_CUT', 'ERROR', 'DROPPED']);
    for (const values of [InferenceMode, QueuePolicy, ExitKind]) {
      assert.ok(Object.isFrozen(values));
      assert.ok(Object.entries(values).every(([key, value]) => key === value && /^[A-Z]+(_[A-Z]+)*$/.test(value)));
    }
  });

  test('a bad mode, queue policy, alwaysAnswer or count is a TypeError naming the option when the client is made', () => {
    const named = (pattern) => (e) => e instanceof TypeError && pattern.test(e.message);
    assert.throws(() => new DfbNetClient({ address, mode: 'fast' }), named(/^options\.mode: "fast" is not one of 'FIRST_EXIT', 'REFINE', 'FULL' \(or 'first-exit', 'refine', 'full'\)/));
    assert.throws(() => new DfbNetClient({ address, mode: 'First-Exit' }), named(/^options\.mode/));
    assert.throws(() => new DfbNetClient({ address, queuePolicy: 'newest' }), named(/^options\.queuePolicy: "newest" is not one of 'QUEUE', 'LATEST' \(or 'queue', 'latest'\)/));
    assert.throws(() => new DfbNetClient({ address, queuePolicy: 'Latest' }), named(/^options\.queuePolicy/));
    assert.throws(() => new DfbNetClient({ address, alwaysAnswer: 'yes' }), named(/^options\.alwaysAnswer: "yes", not a boolean/));
    assert.throws(() => new DfbNetClient({ address, maxFramesInFlight: 0 }), named(/^options\.maxFramesInFlight: .* at least 1/));
    assert.throws(() => new DfbNetClient({ address, maxFramesInFlight: 2.5 }), named(/^options\.maxFramesInFlight/));
    assert.throws(() => new DfbNetClient({ address, maxRetries: -1 }), named(/^options\.maxRetries/));
    assert.throws(() => new DfbNetClient({ address, channelOptions: 'grpc.keepalive_time_ms=1000' }), named(/^options\.channelOptions must be an object/));
    assert.throws(() => new DfbNetClient({ address, interceptors: [{}] }), named(/^options\.interceptors must be an array/));
    // Both spellings of every value are taken.
    for (const mode of ['FIRST_EXIT', 'REFINE', 'FULL', 'first-exit', 'refine', 'full']) new DfbNetClient({ address, mode }).close();
    for (const queuePolicy of ['QUEUE', 'LATEST', 'queue', 'latest']) new DfbNetClient({ address, queuePolicy }).close();
  });

  test('a bad per-call option rejects the call (a stream throws it from its iteration), before anything is sent', async () => {
    const client = new DfbNetClient({ address, maxRetries: 0, maxStreamReconnects: 0, timeoutMs: 2000 });
    try {
      await assert.rejects(client.classify(image, { mode: 'quick' }), (e) => e instanceof TypeError && /^options\.mode: "quick"/.test(e.message));
      await assert.rejects(client.classify(image, { alwaysAnswer: 1 }), (e) => e instanceof TypeError && /^options\.alwaysAnswer/.test(e.message));
      await assert.rejects(collect(client.stream([{ image }], { queuePolicy: 'drop' })), (e) => e instanceof TypeError && /^options\.queuePolicy: "drop"/.test(e.message));
      // Good options get as far as the network, where nothing listens.
      await assert.rejects(client.classify(image, { mode: 'full', queuePolicy: 'latest', alwaysAnswer: true }), (e) => e.code === status.UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});

describe('options against a real server', () => {
  let server;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
  });

  test('modes are taken in either spelling; events and model info are SCREAMING_SNAKE_CASE', async () => {
    const client = new DfbNetClient({ address: server.address, mode: InferenceMode.FULL });
    try {
      assert.equal((await client.getModelInfo()).defaultMode, InferenceMode.FIRST_EXIT);
      const kinds = (result) => result.events.map((e) => e.kind);
      const full = await client.classify(image, { thresholds: [1, 1, 1] });
      assert.deepEqual(kinds(full), [ExitKind.BELOW_THRESHOLD, ExitKind.BELOW_THRESHOLD, ExitKind.BELOW_THRESHOLD, ExitKind.FUSED]);
      assert.deepEqual(kinds(await client.classify(image, { mode: 'full', thresholds: [1, 1, 1] })), kinds(full));
      const first = await client.classify(image, { mode: 'FIRST_EXIT', thresholds: [0, 0, 0] });
      assert.deepEqual(kinds(first), ['EARLY_EXIT']);
      assert.deepEqual(kinds(await client.classify(image, { mode: 'first-exit', thresholds: [0, 0, 0] })), kinds(first));
      const refine = await client.classify(image, { mode: InferenceMode.REFINE, thresholds: [0, 0, 0] });
      assert.deepEqual(kinds(refine), ['EARLY_EXIT', 'REFINEMENT', 'REFINEMENT', 'FUSED']);
      assert.ok(refine.events.every((e) => typeof e.queueTimeMs === 'number' && e.queueTimeMs >= 0 && e.queueTimeMs <= e.serverTimeMs));
    } finally {
      client.close();
    }
  });

  test('a stream has 2 frames in flight by default; maxFramesInFlight raises it', async () => {
    const frames = (count) => Array.from({ length: count }, (_, i) => ({ id: `w${i}`, image }));
    const byDefault = recorder();
    const raised = recorder();
    const client = new DfbNetClient({ address: server.address, interceptors: [byDefault.interceptor] });
    const wide = new DfbNetClient({ address: server.address, interceptors: [raised.interceptor], maxFramesInFlight: 5 });
    try {
      const finals = (await collect(client.stream(frames(12), { mode: 'full' }))).filter((e) => e.event.final);
      assert.equal(finals.length, 12);
      assert.equal(byDefault.record.maxInFlight, 2);
      assert.equal((await collect(wide.stream(frames(12), { mode: 'full' }))).filter((e) => e.event.final).length, 12);
      assert.equal(raised.record.maxInFlight, 5);
    } finally {
      client.close();
      wide.close();
    }
  });

  test('an interceptor runs on every call: classify, getModelInfo and a stream, with the SDK metadata', async () => {
    const first = recorder();
    const order = [];
    const second = (options, nextCall) => {
      order.push(options.method_definition.path);
      return new InterceptingCall(nextCall(options));
    };
    const client = new DfbNetClient({ address: server.address, apiKey: 'k', interceptors: [first.interceptor, second] });
    try {
      await client.getModelInfo();
      await client.classify(image);
      assert.equal((await collect(client.stream([{ image }, { image }]))).filter((e) => e.event.final).length, 2);
    } finally {
      client.close();
    }
    const paths = [getModelInfoPath, classifyPath, streamPath];
    assert.deepEqual(first.record.calls.map((c) => c.path), paths);
    assert.deepEqual(order, paths);
    assert.ok(first.record.calls.every((c) => c.metadata.authorization === 'Bearer k'));
  });

  test('channelOptions reach the channel and win over the SDK own: a tiny grpc.max_receive_message_length fails calls with RESOURCE_EXHAUSTED, not retried', async () => {
    const { record, interceptor } = recorder();
    const tiny = new DfbNetClient({ address: server.address, interceptors: [interceptor], channelOptions: { 'grpc.max_receive_message_length': 16 } });
    const keepalive = new DfbNetClient({ address: server.address, channelOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000, 'grpc.primary_user_agent': 'options-test/1.0' } });
    try {
      await assert.rejects(tiny.classify(image), (e) => e.code === status.RESOURCE_EXHAUSTED && /larger than max/.test(e.details));
      await assert.rejects(collect(tiny.stream([{ image }])), (e) => e.code === status.RESOURCE_EXHAUSTED);
      // One attempt each: RESOURCE_EXHAUSTED is not transient unless retryResourceExhausted is set.
      assert.deepEqual(record.calls.map((c) => c.path), [classifyPath, streamPath]);
      assert.equal((await keepalive.classify(image)).answer.final, true);
    } finally {
      tiny.close();
      keepalive.close();
    }
  });

  test('queuePolicy and alwaysAnswer are sent in the options of classify and of a stream, per call over the client', async () => {
    const { record, interceptor } = recorder();
    const client = new DfbNetClient({ address: server.address, interceptors: [interceptor], queuePolicy: 'latest', alwaysAnswer: true });
    try {
      await client.classify(image);
      await collect(client.stream([{ image }]));
      await collect(client.stream([{ image }], { queuePolicy: QueuePolicy.QUEUE, alwaysAnswer: false }));
    } finally {
      client.close();
    }
    assert.deepEqual(record.streamOptions.map((o) => [o.queuePolicy, o.alwaysAnswer]), [
      ['QUEUE_POLICY_LATEST', true],
      ['QUEUE_POLICY_LATEST', true],
      ['QUEUE_POLICY_QUEUE', false],
    ]);
  });

  test('alwaysAnswer: a budget too short for exit 1 gives a late answer instead of a BUDGET_CUT without one', async () => {
    const client = new DfbNetClient({ address: server.address, budgetMs: hopeless });
    const always = new DfbNetClient({ address: server.address, budgetMs: hopeless, alwaysAnswer: true });
    try {
      const cut = (await client.classify(image)).answer;
      assert.equal(cut.kind, 'BUDGET_CUT');
      assert.equal(cut.exitsComputed, 0);
      assert.equal(cut.prediction, undefined);

      for (const answer of [(await client.classify(image, { alwaysAnswer: true })).answer, (await always.classify(image)).answer]) {
        assert.ok(answer.exitsComputed >= 1, JSON.stringify(answer));
        assert.ok(answer.prediction && answer.prediction.className, JSON.stringify(answer));
      }
      // The call's false wins over the client's true.
      assert.equal((await always.classify(image, { alwaysAnswer: false })).answer.exitsComputed, 0);
    } finally {
      client.close();
      always.close();
    }
  });

  test('per-frame budgets: a frame budgetMs overrides the stream one, and alwaysAnswer applies to it', async () => {
    const client = new DfbNetClient({ address: server.address });
    try {
      const frames = [
        { id: 'roomy', image },
        { id: 'tight', image, budgetMs: hopeless },
        { id: 'reprieved', image, budgetMs: 60_000 },
      ];
      const finals = async (options) => Object.fromEntries((await collect(client.stream(frames, options))).filter((e) => e.event.final).map((e) => [e.frame.id, e.event]));

      // Refine mode (full mode applies no budget).
      const plain = await finals({ mode: 'refine' });
      assert.equal(plain.roomy.kind, 'FUSED');
      assert.equal(plain.tight.kind, 'BUDGET_CUT');
      assert.equal(plain.tight.exitsComputed, 0);
      assert.equal(plain.reprieved.kind, 'FUSED');

      // A stream budget too short for anything: the frames without their own are cut, the one with 60 s is not.
      const tight = await finals({ mode: 'refine', budgetMs: hopeless });
      assert.equal(tight.roomy.kind, 'BUDGET_CUT');
      assert.equal(tight.roomy.prediction, undefined);
      assert.equal(tight.tight.kind, 'BUDGET_CUT');
      assert.equal(tight.reprieved.kind, 'FUSED');

      const answered = await finals({ mode: 'refine', budgetMs: hopeless, alwaysAnswer: true });
      for (const id of ['roomy', 'tight']) {
        assert.ok(answered[id].exitsComputed >= 1 && answered[id].prediction, JSON.stringify(answered[id]));
      }
    } finally {
      client.close();
    }
  });
});

describe('queue policy against a server whose streams queue (MaxFramesInFlightPerStream=1, StreamQueueCapacity=1)', () => {
  let server;

  before(async () => {
    server = await startServer({ args: ['--DfbNet:MaxFramesInFlightPerStream=1', '--DfbNet:StreamQueueCapacity=1'] });
  });

  after(async () => {
    await server?.stop();
  });

  const count = 24;
  const burst = () => Array.from({ length: count }, (_, i) => ({ id: `b${i}`, image: ImageInput.fromRgb(cifarRgb(i), 32, 32) }));

  /** Runs a burst and checks that every frame ends exactly once; returns the final events by kind. */
  async function run(client, options) {
    const events = await collect(client.stream(burst(), { mode: 'full', ...options }));
    const finals = events.filter((e) => e.event.final);
    assert.deepEqual(finals.map((e) => e.frame.id).sort(), burst().map((f) => f.id).sort());
    assert.ok(events.every((e) => e.frame.id === e.event.frameId));
    const byKind = {};
    for (const e of finals) (byKind[e.event.kind] ??= []).push(e);
    return { events, byKind };
  }

  test("LATEST (live cameras): a burst replaces waiting frames, which end with one final DROPPED event; QUEUE drops none", async () => {
    const client = new DfbNetClient({ address: server.address, maxFramesInFlight: count, queuePolicy: QueuePolicy.LATEST });
    try {
      const latest = await run(client);
      const dropped = latest.byKind.DROPPED ?? [];
      assert.ok(dropped.length > 0, `no frame dropped: ${JSON.stringify(Object.keys(latest.byKind))}`);
      for (const { event } of dropped) {
        assert.equal(event.exit, 0);
        assert.equal(event.exitsComputed, 0);
        assert.equal(event.prediction, undefined);
        // A dropped frame has no event but its DROPPED one.
        assert.deepEqual(latest.events.filter((e) => e.frame.id === event.frameId).map((e) => e.event.kind), ['DROPPED']);
      }
      assert.equal(dropped.length + (latest.byKind.FUSED?.length ?? 0), count);
      // The newest frame is never the one replaced.
      assert.ok(!dropped.some((e) => e.frame.id === `b${count - 1}`));

      // The call's QUEUE wins over the client's LATEST: the server waits instead, and every frame runs.
      const queued = await run(client, { queuePolicy: 'queue' });
      assert.deepEqual(Object.keys(queued.byKind), ['FUSED']);
    } finally {
      client.close();
    }
  });

  test("the lowercase 'latest' of the server's dfbnet-queue-policy header is taken too; without a policy, the server's default (queue)", async () => {
    const client = new DfbNetClient({ address: server.address, maxFramesInFlight: count });
    try {
      assert.ok(((await run(client, { queuePolicy: 'latest' })).byKind.DROPPED ?? []).length > 0);
      assert.deepEqual(Object.keys((await run(client)).byKind), ['FUSED']);
    } finally {
      client.close();
    }
  });
});
