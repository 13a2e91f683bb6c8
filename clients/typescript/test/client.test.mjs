import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DfbNetClient, ImageInput, status } from '@dfbnet/client';
import { cifarRgb, encodePng, startServer, writePng } from '../test-support/server.mjs';

describe('DfbNetClient against a real server', () => {
  let server;
  let client;

  before(async () => {
    server = await startServer();
    client = new DfbNetClient({ address: server.address });
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  test('getModelInfo describes the default model', async () => {
    const info = await client.getModelInfo();
    assert.equal(info.name, 'default');
    assert.equal(info.isDefault, true);
    assert.equal(info.untrained, true);
    assert.equal(info.exits.length, 3);
    assert.deepEqual(info.exits.map((e) => e.exit), [1, 2, 3]);
    assert.equal(info.classes.length, 10);
    assert.equal(info.classes[3], 'cat');
    assert.equal(info.defaultMode, 'FIRST_EXIT');
    assert.ok(info.exits.every((e) => e.latencyEstimateMs > 0));
    assert.ok(info.exits.every((e) => e.capturesGraph === false));
    assert.deepEqual(info.presets.map((p) => p.name).sort(), ['accurate', 'balanced', 'fast']);
  });

  test('classify: raw, PNG bytes and a PNG file give the same answer, with every exit event', async () => {
    const raw = await client.classify(ImageInput.fromRgb(cifarRgb(3), 32, 32));
    const png = await client.classify(ImageInput.fromBytes(encodePng(cifarRgb(3), 32, 32)));
    const file = await client.classify(await ImageInput.fromFile(writePng(server.root, 3)));

    assert.equal(raw.model, 'default');
    assert.deepEqual(raw.answer, raw.events.at(-1));
    assert.equal(raw.answer.final, true);
    assert.equal(raw.events.filter((e) => e.final).length, 1);
    assert.ok(['EARLY_EXIT', 'FUSED'].includes(raw.answer.kind));
    const exits = raw.events.filter((e) => e.exit > 0).map((e) => e.exit);
    assert.deepEqual(exits, exits.map((_, i) => i + 1));
    for (const other of [png, file]) {
      assert.deepEqual(other.events.map((e) => [e.exit, e.kind, e.prediction.classIndex]), raw.events.map((e) => [e.exit, e.kind, e.prediction.classIndex]));
      assert.ok(Math.abs(other.answer.prediction.confidence - raw.answer.prediction.confidence) < 1e-5);
    }
    assert.ok(raw.answer.serverTimeMs > 0);
  });

  test('classify: client defaults and per-call options reach the server', async () => {
    const refine = new DfbNetClient({ address: server.address, mode: 'refine', preset: 'fast', topK: 3, apiKey: 'k' });
    try {
      const result = await refine.classify(ImageInput.fromRgb(cifarRgb(0), 32, 32));
      assert.deepEqual(result.events.map((e) => e.exit), [1, 2, 3, 0]);
      assert.equal(result.answer.kind, 'FUSED');
      assert.equal(result.events.filter((e) => e.kind === 'EARLY_EXIT').length, 1);
      assert.ok(result.events.every((e) => e.prediction.topK.length === 3));

      const full = await refine.classify(ImageInput.fromRgb(cifarRgb(0), 32, 32), { mode: 'full', thresholds: [1, 1, 1] });
      assert.deepEqual(full.events.map((e) => e.kind), ['BELOW_THRESHOLD', 'BELOW_THRESHOLD', 'BELOW_THRESHOLD', 'FUSED']);
    } finally {
      refine.close();
    }
  });

  test('classify: a corrupt image is INVALID_ARGUMENT, an unknown model NOT_FOUND', async () => {
    await assert.rejects(client.classify(ImageInput.fromBytes(Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]))), (error) => error.code === status.INVALID_ARGUMENT);
    await assert.rejects(client.classify(ImageInput.fromRgb(cifarRgb(0), 32, 32), { model: 'nope' }), (error) => error.code === status.NOT_FOUND && /default/.test(error.details));
  });

  test('classify: a deadline too short is DEADLINE_EXCEEDED; an aborted signal rejects with its reason', async () => {
    await assert.rejects(client.classify(ImageInput.fromRgb(cifarRgb(0), 32, 32), { timeoutMs: 0.001 }), (error) => error.code === status.DEADLINE_EXCEEDED);
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await assert.rejects(client.classify(ImageInput.fromRgb(cifarRgb(0), 32, 32), { signal: controller.signal }), /stop now/);
  });

  test('ImageInput checks the raw buffer length', () => {
    assert.throws(() => ImageInput.fromRgb(new Uint8Array(10), 2, 2), /has 12 bytes; the buffer has 10/);
    assert.throws(() => ImageInput.fromBytes(new Uint8Array(0)), /empty/);
  });

  test('stream: events are correlated to their frames and each frame ends with one final event', async () => {
    async function* frames() {
      for (let i = 0; i < 25; i++) {
        yield { id: `f${i}`, image: ImageInput.fromRgb(cifarRgb(i), 32, 32) };
      }
    }
    const byFrame = new Map();
    for await (const e of client.stream(frames())) {
      assert.equal(e.frame.id, e.event.frameId);
      assert.ok(e.roundTripMs >= e.event.serverTimeMs);
      byFrame.set(e.frame.id, [...(byFrame.get(e.frame.id) ?? []), e.event]);
    }
    assert.deepEqual([...byFrame.keys()], Array.from({ length: 25 }, (_, i) => `f${i}`));
    for (const events of byFrame.values()) {
      assert.equal(events.filter((e) => e.final).length, 1);
      assert.equal(events.at(-1).final, true);
      assert.deepEqual(events.filter((e) => e.exit > 0).map((e) => e.exit), events.filter((e) => e.exit > 0).map((_, i) => i + 1));
    }
  });

  test('stream: frames without ids are numbered; a bad frame ends with ERROR and the stream goes on', async () => {
    const frames = [
      { image: ImageInput.fromRgb(cifarRgb(0), 32, 32) },
      { image: ImageInput.fromBytes(Buffer.from([1, 2, 3])) },
      { image: ImageInput.fromRgb(cifarRgb(2), 32, 32), budgetMs: 60_000 },
    ];
    const finals = [];
    for await (const e of client.stream(frames)) {
      if (e.event.final) finals.push(e.event);
    }
    assert.deepEqual(finals.map((e) => e.frameId), ['0', '1', '2']);
    assert.equal(finals[1].kind, 'ERROR');
    assert.equal(finals[1].errorCode, 'InvalidArgument');
    assert.notEqual(finals[2].kind, 'ERROR');
  });

  test('stream: aborting stops the iteration with the signal reason', async () => {
    const controller = new AbortController();
    async function* endless() {
      for (let i = 0; ; i++) yield { id: `e${i}`, image: ImageInput.fromRgb(cifarRgb(i % 200), 32, 32) };
    }
    let seen = 0;
    await assert.rejects(async () => {
      for await (const _ of client.stream(endless(), { signal: controller.signal })) {
        if (++seen === 10) controller.abort(new Error('enough'));
      }
    }, /enough/);
    assert.ok(seen >= 10 && seen < 200, `${seen} events`);
  });

  test('stream: the deadline ends a long stream with DEADLINE_EXCEEDED', async () => {
    async function* slow() {
      for (let i = 0; ; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        yield { id: `s${i}`, image: ImageInput.fromRgb(cifarRgb(i % 200), 32, 32) };
      }
    }
    let seen = 0;
    await assert.rejects(async () => {
      for await (const _ of client.stream(slow(), { timeoutMs: 400 })) seen++;
    }, (error) => error.code === status.DEADLINE_EXCEEDED);
    assert.ok(seen > 0);
  });

  test('stream: a source that throws ends the stream with its error', async () => {
    async function* unplugged() {
      yield { id: 'u0', image: ImageInput.fromRgb(cifarRgb(0), 32, 32) };
      yield { id: 'u1', image: ImageInput.fromRgb(cifarRgb(1), 32, 32) };
      throw new Error('camera unplugged');
    }
    await assert.rejects(async () => {
      for await (const _ of client.stream(unplugged())) {
        // consume
      }
    }, /camera unplugged/);
  });

  test('stream: two frames in flight with the same id fail the stream', async () => {
    const image = ImageInput.fromRgb(cifarRgb(0), 32, 32);
    await assert.rejects(async () => {
      for await (const _ of client.stream([{ id: 'same', image }, { id: 'same', image }])) {
        // consume
      }
    }, /'same' is already in flight/);
  });
});

describe('retries and reconnection', () => {
  let server;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
  });

  test('stream: the server restarts mid-stream; unanswered frames are resent and each frame ends once', async () => {
    // Generous reconnections: a server process starts in a second or two, longer on a loaded machine.
    const client = new DfbNetClient({ address: server.address, maxStreamReconnects: 60, retryDelayMs: 100, maxRetryDelayMs: 300, maxFramesInFlight: 4 });
    const large = Buffer.alloc(512 * 512 * 3);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) % 251;
    const count = 40;
    function* frames() {
      for (let i = 0; i < count; i++) yield { id: `f${i}`, image: ImageInput.fromRgb(large, 512, 512) };
    }
    const events = [];
    let restart;
    try {
      for await (const e of client.stream(frames(), { mode: 'full' })) {
        events.push(e);
        if (!restart && events.filter((x) => x.event.final).length === 10) {
          // Mid-stream, with frames in flight: the server dies and comes back on the same address.
          restart = server.restart();
        }
      }
    } finally {
      client.close();
    }
    assert.ok(restart, 'the server was restarted');
    await restart;

    const finals = events.filter((e) => e.event.final);
    assert.deepEqual(finals.map((e) => e.frame.id).sort(), Array.from({ length: count }, (_, i) => `f${i}`).sort());
    assert.ok(events.every((e) => e.frame.id === e.event.frameId));
    assert.ok(finals.every((e) => e.event.kind === 'FUSED'));
    assert.ok(finals.some((e) => e.resent), 'frames in flight at the break were resent');
    assert.ok(finals.slice(0, 10).every((e) => !e.resent));
    for (const id of new Set(events.map((e) => e.frame.id))) {
      // The answer that ended the frame (the original or the resend's) ran exits 1, 2, 3 and fusion in order.
      const own = events.filter((e) => e.frame.id === id);
      const last = own[own.length - 1].resent;
      assert.deepEqual(own.filter((e) => e.resent === last).map((e) => e.event.exit), [1, 2, 3, 0], id);
    }
  });

  test('classify: retried across a server restart, it is answered', async () => {
    const client = new DfbNetClient({ address: server.address, maxRetries: 60, retryDelayMs: 100, maxRetryDelayMs: 300 });
    try {
      const restart = server.restart();
      const result = await client.classify(ImageInput.fromRgb(cifarRgb(1), 32, 32));
      await restart;
      assert.equal(result.answer.final, true);
    } finally {
      client.close();
    }
  });

  test('with the server gone, classify and streams fail with UNAVAILABLE after their retries', async () => {
    const gone = await startServer();
    const address = gone.address;
    await gone.stop();
    const image = ImageInput.fromRgb(cifarRgb(0), 32, 32);
    const client = new DfbNetClient({ address, maxRetries: 2, maxStreamReconnects: 2, retryDelayMs: 50, maxRetryDelayMs: 100 });
    const once = new DfbNetClient({ address, maxRetries: 0 });
    const started = performance.now();
    try {
      await assert.rejects(client.classify(image), (error) => error.code === status.UNAVAILABLE);
      await assert.rejects(once.classify(image), (error) => error.code === status.UNAVAILABLE);
      await assert.rejects(async () => {
        for await (const _ of client.stream([{ id: 'a', image }])) {
          // nothing arrives
        }
      }, (error) => error.code === status.UNAVAILABLE);
    } finally {
      client.close();
      once.close();
    }
    assert.ok(performance.now() - started < 10_000);
  });
});

