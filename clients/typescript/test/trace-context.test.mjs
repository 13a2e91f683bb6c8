// W3C trace context: the client's `traceContext` callback and the per-call `traceparent`/`tracestate` options, checked
// against a real server. The server shows what it received in two places: its JSON console log, whose scope holds the
// TraceId, SpanId and ParentId of the call's span (ASP.NET Core's, continuing the traceparent the client sent), and its
// OTLP exports, received by a stand-in collector that looks for the trace id, the parent span id and the tracestate in
// the raw protobuf.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DfbNetClient, ImageInput } from '@dfbnet/client';
import { cifarRgb, startOtlpReceiver, startServer } from '../test-support/server.mjs';

delete process.env.DFBNET_API_KEY;

const image = ImageInput.fromRgb(cifarRgb(3), 32, 32);
const classifyPath = '/dfbnet.v1.DfbNet/Classify';
const getModelInfoPath = '/dfbnet.v1.DfbNet/GetModelInfo';
const streamPath = '/dfbnet.v1.DfbNet/ClassifyStream';
const noParent = '0000000000000000';

/** A fresh trace context: a random trace id and parent span id, sampled. */
function newTrace(tracestate) {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, ...(tracestate ? { tracestate } : {}) };
}

/** A traceContext callback that makes a new trace context each time it is called and keeps them in `issued`. */
function issuing(tracestate) {
  const issued = [];
  const callback = () => {
    const trace = newTrace(tracestate);
    issued.push(trace);
    return { traceparent: trace.traceparent, ...(trace.tracestate ? { tracestate: trace.tracestate } : {}) };
  };
  return { issued, callback };
}

async function drain(iterable) {
  let count = 0;
  for await (const _ of iterable) count++;
  return count;
}

describe('trace context options (no server)', () => {
  // Nothing listens there: a call that got past the checks would fail with UNAVAILABLE, not the TypeError expected.
  const address = '127.0.0.1:1';
  const options = { address, maxRetries: 0, maxStreamReconnects: 0, timeoutMs: 2000 };

  test('traceContext must be a function', () => {
    for (const traceContext of ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', { traceparent: 'x' }, 42]) {
      assert.throws(() => new DfbNetClient({ address, traceContext }), (e) => e instanceof TypeError && /options\.traceContext must be a function/.test(e.message));
    }
  });

  test('an invalid per-call traceparent is a TypeError naming options.traceparent, for every kind of call', async () => {
    const valid = newTrace();
    const invalid = [
      valid.traceparent.toUpperCase(),
      `00-${valid.traceId}-${valid.spanId}`,
      `00-${valid.traceId}-${valid.spanId}-1`,
      `00-${valid.traceId.slice(1)}-${valid.spanId}-01`,
      ` ${valid.traceparent}`,
      `00-${'0'.repeat(32)}-${valid.spanId}-01`,
      `00-${valid.traceId}-${'0'.repeat(16)}-01`,
      `ff-${valid.traceId}-${valid.spanId}-01`,
      `00_${valid.traceId}_${valid.spanId}_01`,
      42,
    ];
    let called = 0;
    const client = new DfbNetClient({ ...options, traceContext: () => (called++, { traceparent: valid.traceparent }) });
    try {
      for (const traceparent of invalid) {
        const named = (e) => e instanceof TypeError && /^options\.traceparent: .*(is not a W3C traceparent|not a string)/.test(e.message);
        await assert.rejects(client.classify(image, { traceparent }), named, String(traceparent));
        await assert.rejects(client.getModelInfo(undefined, { traceparent }), named, String(traceparent));
        await assert.rejects(drain(client.stream([{ image }], { traceparent })), named, String(traceparent));
      }
    } finally {
      client.close();
    }
    assert.equal(called, 0, 'a per-call traceparent, even an invalid one, is used instead of the callback');
  });

  test('a per-call tracestate needs a traceparent and must be a W3C tracestate', async () => {
    const client = new DfbNetClient(options);
    const { traceparent } = newTrace();
    try {
      await assert.rejects(client.classify(image, { tracestate: 'vendor=1' }), (e) => e instanceof TypeError && /options\.tracestate needs options\.traceparent/.test(e.message));
      await assert.rejects(client.classify(image, { traceparent: '', tracestate: 'vendor=1' }), (e) => e instanceof TypeError && /options\.tracestate: "vendor=1" has no traceparent/.test(e.message));
      for (const tracestate of ['Vendor=1', 'vendor', 'vendor=1,vendor=2', 'vendor=a=b', 'vendor=\t1', 'vendor=é', 'vendor=1 ,=2', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')]) {
        await assert.rejects(client.classify(image, { traceparent, tracestate }), (e) => e instanceof TypeError && /^options\.tracestate: /.test(e.message), tracestate);
      }
    } finally {
      client.close();
    }
  });

  test("an invalid value from the traceContext callback is a TypeError naming options.traceContext; the callback's own error fails the call", async () => {
    const valid = newTrace();
    const cases = [
      [{ traceparent: valid.traceparent.replace(/-01$/, '-1') }, /^options\.traceContext's traceparent: .* is not a W3C traceparent/],
      [{ traceparent: `00-${'0'.repeat(32)}-${valid.spanId}-01` }, /^options\.traceContext's traceparent: .* is not a W3C traceparent/],
      [{ traceparent: valid.traceparent, tracestate: 'UPPER=1' }, /^options\.traceContext's tracestate: .* is not a W3C tracestate/],
      [{ tracestate: 'vendor=1' }, /^options\.traceContext's tracestate: "vendor=1" has no traceparent/],
      [{ traceparent: 7 }, /^options\.traceContext's traceparent: number, not a string/],
      [valid.traceparent, /^options\.traceContext returned "00-.*"; it must return \{ traceparent, tracestate\? \} or undefined/],
    ];
    for (const [value, message] of cases) {
      const client = new DfbNetClient({ ...options, traceContext: () => value });
      try {
        const named = (e) => e instanceof TypeError && message.test(e.message);
        await assert.rejects(client.classify(image), named, JSON.stringify(value));
        await assert.rejects(client.getModelInfo(), named, JSON.stringify(value));
        await assert.rejects(drain(client.stream([{ image }])), named, JSON.stringify(value));
      } finally {
        client.close();
      }
    }
    const failing = new DfbNetClient({ ...options, traceContext: () => { throw new Error('no tracer'); } });
    try {
      await assert.rejects(failing.classify(image), /no tracer/);
      await assert.rejects(drain(failing.stream([{ image }])), /no tracer/);
    } finally {
      failing.close();
    }
  });
});

describe('trace context against a real server', () => {
  let receiver;
  let server;
  // Every trace id that a test sent, to check that the calls sending none got one of the server's own.
  const sent = new Set();

  before(async () => {
    receiver = await startOtlpReceiver();
    server = await startServer({
      args: [
        '--Logging:LogLevel:DfbNet=Information', // "Stream {StreamId} opened by ..." per stream
        '--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Information', // "Request starting/finished" per call
        '--Logging:Console:FormatterName=json',
        '--Logging:Console:FormatterOptions:IncludeScopes=true',
        `--DfbNet:Tracing:OtlpEndpoint=${receiver.endpoint}`,
        '--DfbNet:Tracing:OtlpProtocol=http',
      ],
      env: { OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  /** The trace of a log entry's scope: { TraceId, SpanId, ParentId }. */
  const scopeTrace = (entry) => (entry.Scopes ?? []).find((scope) => scope && typeof scope === 'object' && scope.TraceId);
  const isRequest = (eventId, path) => (entry) => entry.Category === 'Microsoft.AspNetCore.Hosting.Diagnostics' && entry.EventId === eventId && entry.State?.Path === path;
  const requestStarting = (path) => isRequest(1, path);
  const requestFinished = (path) => isRequest(2, path);
  const streamOpened = (entry) => entry.Category?.startsWith('DfbNet.Server') && /^Stream \{StreamId\} opened/.test(entry.State?.['{OriginalFormat}'] ?? '');
  const inTrace = (traceId) => (entry) => scopeTrace(entry)?.TraceId === traceId;
  const both = (...predicates) => (entry) => predicates.every((p) => p(entry));

  /** Log entries from index `from` on that match, once at least one does (the console log is written asynchronously). */
  async function waitForEntries(predicate, from = 0, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = server.logEntries().slice(from).filter(predicate);
      if (found.length > 0) return found;
      if (Date.now() > deadline) throw new Error(`no such log entry within ${timeoutMs} ms; the server wrote:\n${server.output().slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Asserts that the server's call on `path` ran in the trace `trace`, as a child of its span; returns the call's span id. */
  async function assertJoined(path, trace) {
    sent.add(trace.traceId);
    const [entry] = await waitForEntries(both(requestFinished(path), inTrace(trace.traceId)));
    const scope = scopeTrace(entry);
    assert.equal(scope.ParentId, trace.spanId, `the server's ${path} span is a child of the client's span`);
    assert.notEqual(scope.SpanId, trace.spanId);
    return scope.SpanId;
  }

  test('traceContext is sent with classify and getModelInfo: the server logs each call in the trace it gave', async () => {
    const { issued, callback } = issuing();
    const client = new DfbNetClient({ address: server.address, traceContext: callback });
    try {
      const result = await client.classify(image);
      assert.equal(result.answer.final, true);
      assert.equal(issued.length, 1);
      await client.getModelInfo();
      assert.equal(issued.length, 2, 'the callback is called once per call');
    } finally {
      client.close();
    }
    await assertJoined(classifyPath, issued[0]);
    await assertJoined(getModelInfoPath, issued[1]);
  });

  test('traceContext is sent with a stream: "Stream opened" is logged in its trace; the exported spans carry it and the tracestate', async () => {
    const { issued, callback } = issuing('dfbnet=t1,tenant@vendor=a b');
    const client = new DfbNetClient({ address: server.address, traceContext: callback });
    try {
      const events = await drain(client.stream(Array.from({ length: 3 }, (_, i) => ({ id: `t${i}`, image }))));
      assert.ok(events >= 3);
    } finally {
      client.close();
    }
    assert.equal(issued.length, 1, 'the callback is called once per stream');
    const [trace] = issued;
    const [opened] = await waitForEntries(both(streamOpened, inTrace(trace.traceId)));
    assert.equal(scopeTrace(opened).ParentId, trace.spanId);
    const callSpan = await assertJoined(streamPath, trace);
    // The server's spans (the call's, each frame's) went to the collector with the client's trace id, parent span id
    // and tracestate.
    await receiver.waitFor([Buffer.from(trace.traceId, 'hex'), Buffer.from(trace.spanId, 'hex'), Buffer.from(callSpan, 'hex'), trace.tracestate]);
  });

  test('a per-call traceparent (and tracestate) wins over traceContext and over metadata', async () => {
    const { issued, callback } = issuing();
    const client = new DfbNetClient({ address: server.address, traceContext: callback });
    const unary = newTrace('percall=1');
    const stream = newTrace();
    const inMetadata = newTrace('old=1');
    try {
      await client.classify(image, { traceparent: unary.traceparent, tracestate: unary.tracestate, metadata: { traceparent: inMetadata.traceparent, tracestate: inMetadata.tracestate } });
      await drain(client.stream([{ image }], { traceparent: stream.traceparent }));
    } finally {
      client.close();
    }
    assert.equal(issued.length, 0, 'the callback is not called for a call with its own traceparent');
    const unarySpan = await assertJoined(classifyPath, unary);
    await assertJoined(streamPath, stream);
    const [opened] = await waitForEntries(both(streamOpened, inTrace(stream.traceId)));
    assert.equal(scopeTrace(opened).ParentId, stream.spanId);
    assert.ok(!server.logEntries().some(inTrace(inMetadata.traceId)), "metadata's traceparent was replaced");
    const body = await receiver.waitFor([Buffer.from(unary.traceId, 'hex'), Buffer.from(unarySpan, 'hex'), unary.tracestate]);
    assert.ok(!body.includes(Buffer.from('old=1')), "metadata's tracestate was replaced");
  });

  test("without traceContext, or with traceparent '', none is sent: the server starts its own trace", async () => {
    const { issued, callback } = issuing();
    const traced = new DfbNetClient({ address: server.address, traceContext: callback });
    const plain = new DfbNetClient({ address: server.address });
    const ownTrace = async (call, predicate) => {
      const from = server.logEntries().length;
      await call();
      const [entry] = await waitForEntries(predicate, from);
      const scope = scopeTrace(entry);
      assert.match(scope.TraceId, /^[0-9a-f]{32}$/);
      assert.ok(!sent.has(scope.TraceId) && !issued.some((t) => t.traceId === scope.TraceId), 'a trace id of the server, not one the client sent');
      assert.equal(scope.ParentId, noParent, 'the server span has no parent: no traceparent arrived');
    };
    try {
      await ownTrace(() => plain.classify(image), requestStarting(classifyPath));
      await ownTrace(() => plain.getModelInfo(), requestStarting(getModelInfoPath));
      await ownTrace(() => drain(plain.stream([{ image }])), streamOpened);
      await ownTrace(() => traced.classify(image, { traceparent: '' }), requestStarting(classifyPath));
      await ownTrace(() => drain(traced.stream([{ image }], { traceparent: '' })), streamOpened);
    } finally {
      traced.close();
      plain.close();
    }
    assert.equal(issued.length, 0, "traceparent '' does not call the callback");
  });

  test("a stream's reconnections and a unary call's retries reuse the call's first trace context", async () => {
    const { issued, callback } = issuing();
    // Generous reconnections and retries: a server process starts in a second or two, longer on a loaded machine.
    const client = new DfbNetClient({ address: server.address, traceContext: callback, maxStreamReconnects: 60, maxRetries: 60, retryDelayMs: 100, maxRetryDelayMs: 300, maxFramesInFlight: 4 });
    const large = Buffer.alloc(512 * 512 * 3);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) % 251;
    const count = 20;
    let restart;
    try {
      let finals = 0;
      let resent = false;
      for await (const e of client.stream(Array.from({ length: count }, (_, i) => ({ id: `r${i}`, image: ImageInput.fromRgb(large, 512, 512) })), { mode: 'full' })) {
        if (e.event.final) finals++;
        resent ||= e.resent;
        if (!restart && finals === 5) restart = server.restart();
      }
      assert.ok(restart, 'the server was restarted');
      await restart;
      assert.equal(finals, count);
      assert.ok(resent, 'the stream was reconnected');
      assert.equal(issued.length, 1, 'a reconnection does not call the callback again');
      const [trace] = issued;
      const opened = await waitForEntries(both(streamOpened, inTrace(trace.traceId)));
      assert.ok(opened.length >= 2, `"Stream opened" in the trace ${opened.length} times: the first call and its reconnection`);
      assert.ok(opened.every((entry) => scopeTrace(entry).ParentId === trace.spanId));
      sent.add(trace.traceId);

      const again = server.restart();
      const result = await client.classify(image);
      await again;
      assert.equal(result.answer.final, true);
      assert.equal(issued.length, 2, 'retries do not call the callback again');
      await assertJoined(classifyPath, issued[1]);
    } finally {
      client.close();
      await restart;
    }
  });
});
