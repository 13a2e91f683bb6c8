import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ImageInput } from './image.js';
import { ExitKind, InferenceMode, QueuePolicy } from './types.js';
import type { ClassifyResult, ExitEvent, InferenceModeInput, ModelInfo, Prediction, QueuePolicyInput, RequestOptions, TraceContext } from './types.js';

/** Settings of a {@link DfbNetClient}. */
export interface DfbNetClientOptions {
  /** `host:port`, `http://host:port` (HTTP/2 without TLS, the server's default) or `https://host:port` (TLS). */
  address: string;
  /** Channel credentials (for example `grpc.credentials.createSsl(rootCert)`); by default insecure for http and
   * host:port addresses, TLS for https addresses (with `caCertificate`, `clientCertificate` and `clientKey` when set,
   * else the system's roots). Given, they are used as they are, and setting any of those three as well is a TypeError. */
  credentials?: grpc.ChannelCredentials;
  /** TLS: the CA certificate(s) that the server's certificate must chain to, instead of the system's roots (for a
   * private CA or a self-signed server). A `Buffer` holds PEM contents; a `string` is the path of a PEM file, read when
   * the client is made. Needs an `https://` address. */
  caCertificate?: string | Buffer;
  /** Mutual TLS: the client's certificate (chain), presented to a server that requires one. A `Buffer` holds PEM
   * contents; a `string` is the path of a PEM file. Needs `clientKey` and an `https://` address. */
  clientCertificate?: string | Buffer;
  /** Mutual TLS: the private key of `clientCertificate` (PEM, unencrypted). A `Buffer` holds PEM contents; a `string`
   * is the path of a PEM file. Needs `clientCertificate` and an `https://` address. */
  clientKey?: string | Buffer;
  /** An API key sent with every call (unary calls, streams and their reconnections). Not given (undefined): the
   * environment variable `DFBNET_API_KEY`, read when the client is made, where it is set and not empty; an empty
   * string sends no key, whatever the environment holds. */
  apiKey?: string;
  /** `authorization` sends `authorization: Bearer <key>` (default); `x-api-key` sends `x-api-key: <key>`. */
  apiKeyHeader?: 'authorization' | 'x-api-key';
  /**
   * The W3C trace context to send, as the `traceparent` and `tracestate` metadata headers, so that the server's spans
   * join the caller's trace. Called synchronously once at the start of every call (`classify` and `getModelInfo` when
   * called, `stream` when its iteration starts), in the caller's async context; a unary call's retries and a stream's
   * reconnections reuse that first value (one logical operation, one parent span). Returning `undefined`, or no
   * `traceparent` (an empty carrier), sends none. A call's own `traceparent` option overrides it (and it is then not
   * called). A value that is not a valid traceparent or tracestate is a TypeError naming `options.traceContext`; an
   * error the callback throws fails the call. With OpenTelemetry:
   * `() => { const carrier = {}; propagation.inject(context.active(), carrier); return carrier; }`.
   */
  traceContext?: () => TraceContext | undefined | null;
  /**
   * grpc-js channel options (`grpc.ChannelOptions`), passed to the channel as they are: for example keepalive pings
   * through a proxy that drops idle connections (`{ 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms':
   * 10_000 }`), or `'grpc.primary_user_agent'`. They are merged over the SDK's own (`'grpc.max_receive_message_length'`:
   * 64 MiB); a key given here wins.
   */
  channelOptions?: grpc.ChannelOptions;
  /**
   * grpc-js client interceptors, run in order on every call of the client: `classify`, `getModelInfo` (and each of
   * their retries) and `stream` (each of its calls, reconnections included). Each is `(options, nextCall) =>
   * new InterceptingCall(nextCall(options), requester?)`; `options.method_definition.path` names the method
   * (`/dfbnet.v1.DfbNet/ClassifyStream`...). They see the SDK's metadata (API key, trace context) and the wire messages.
   */
  interceptors?: grpc.Interceptor[];
  /** Defaults of every call; each call's options override them (see {@link RequestOptions}). */
  model?: string;
  mode?: InferenceModeInput;
  preset?: string;
  /** The latency budget of each frame in milliseconds; a stream's frame may give its own (`InputFrame.budgetMs`). */
  budgetMs?: number;
  topK?: number;
  /** Streams: the server's queue policy, `'QUEUE'` (wait) or `'LATEST'` (live cameras: a stale frame is dropped for the
   * newest, and ends with a DROPPED event); not given: the server's default. */
  queuePolicy?: QueuePolicyInput;
  /** Run exit 1 even when a frame's budget cannot be met: a late answer rather than none (default false). */
  alwaysAnswer?: boolean;
  timeoutMs?: number;
  /**
   * Frames of a stream sent and not yet answered with a final event, at most (default 2); the stream takes the next
   * frame from its source only when an answer frees a place. These are also the frames a reconnection resends. 2 (as in
   * the .NET SDK and the CLI) keeps the server busy, one frame running and one waiting, without frames queueing up
   * behind each other: with 32, a 100-frame run's round trip grew to about 120 ms. Raise it for throughput over
   * latency.
   */
  maxFramesInFlight?: number;
  /** Retries of a unary call (classify, getModelInfo) after a transient failure (see {@link DfbNetClient}), within its
   * deadline (default 3; 0 turns them off). */
  maxRetries?: number;
  /** Reconnections of a stream whose call broke with a transient failure (a server restart, a dropped network), in a
   * row: the count restarts with each event received (default 5; 0 turns reconnection off). Each reconnection resends
   * the frames that have no final event yet, so that every frame still ends with exactly one final event. */
  maxStreamReconnects?: number;
  /** Wait before the first retry or reconnection in ms (default 100); each further one in a row doubles it, with jitter. */
  retryDelayMs?: number;
  /** The longest wait before a retry or reconnection in ms (default 2000). */
  maxRetryDelayMs?: number;
  /** Also retry (and reconnect after) RESOURCE_EXHAUSTED. Off by default: a DfbNet server answers a message larger than
   * its `MaxMessageBytes` with it, and sending the same image again cannot succeed. Turn it on behind a proxy or gateway
   * that uses the code for rate limiting. */
  retryResourceExhausted?: boolean;
}

/** A frame of a stream. */
export interface InputFrame {
  /** Echoed in the frame's events; unique among the frames in flight. Omitted: the client numbers frames 0, 1, 2... */
  id?: string;
  image: ImageInput;
  /** A latency budget for this frame only, in milliseconds from its arrival at the server, instead of the stream's
   * (`budgetMs` of the call or the client); 0 for none. A frame whose budget runs out ends with a BUDGET_CUT event (its
   * exits so far fused), or at once without a prediction when the budget is too short for exit 1 (unless
   * `alwaysAnswer`). */
  budgetMs?: number;
}

/** An exit event of a stream with the frame it belongs to. */
export interface StreamEvent {
  /** The frame, with the id the client gave it where it had none. */
  frame: InputFrame & { id: string };
  event: ExitEvent;
  /** Client time from sending the frame to this event, in milliseconds. */
  roundTripMs: number;
  /** True when the frame was sent again on a new call after the previous one broke: its events start again at exit 1. */
  resent: boolean;
}

const protoPath = fileURLToPath(new URL('../proto/dfbnet/v1/dfbnet.proto', import.meta.url));

type RawClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let serviceConstructor: grpc.ServiceClientConstructor | undefined;

function loadService(): grpc.ServiceClientConstructor {
  if (!serviceConstructor) {
    const definition = protoLoader.loadSync(protoPath, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
    const root = grpc.loadPackageDefinition(definition) as unknown as { dfbnet: { v1: { DfbNet: grpc.ServiceClientConstructor } } };
    serviceConstructor = root.dfbnet.v1.DfbNet;
  }
  return serviceConstructor;
}

/**
 * A client of a DfbNet server: {@link classify} one image, {@link stream} frames and receive every exit event as it fires,
 * {@link getModelInfo}. Failed calls reject with grpc-js `ServiceError`s (`code` is a `grpc.status`); a call cancelled
 * through its `signal` rejects with the signal's reason.
 *
 * Transient failures, as in the .NET SDK, are UNAVAILABLE (the server is down or restarting, the connection broke) and
 * INTERNAL where no server said it: grpc-js's own report of an HTTP/2 stream reset or a session that went away under
 * the call (details `Received RST_STREAM with code N...` or `Failed to start HTTP/2 stream...`); RESOURCE_EXHAUSTED too
 * with `retryResourceExhausted`. Unary calls are retried after them, streams reconnected; a server's own INTERNAL
 * status, and every other code, is final.
 */
export class DfbNetClient {
  private readonly client: RawClient;
  private readonly options: DfbNetClientOptions;
  /** The wire StreamOptions of a call that gives none of its own. */
  private readonly defaults: Raw;
  private readonly window: number;
  private readonly maxRetries: number;
  private readonly maxReconnects: number;

  constructor(options: DfbNetClientOptions) {
    if (!options || !options.address) {
      throw new TypeError('options.address is required (for example "localhost:50051").');
    }
    if (options.traceContext !== undefined && options.traceContext !== null && typeof options.traceContext !== 'function') {
      throw new TypeError('options.traceContext must be a function that returns { traceparent, tracestate? } or undefined.');
    }
    this.options = { ...options, apiKey: resolveApiKey(options.apiKey) };
    // The defaults of every call, checked now so that a bad one fails here, not in each call.
    this.defaults = this.callSettings({}, 'options');
    this.window = checkCount(options.maxFramesInFlight, 'options.maxFramesInFlight', 2, 1);
    this.maxRetries = checkCount(options.maxRetries, 'options.maxRetries', 3, 0);
    this.maxReconnects = checkCount(options.maxStreamReconnects, 'options.maxStreamReconnects', 5, 0);
    const tls = options.address.startsWith('https://');
    const target = options.address.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const tlsSet = tlsOptionsSet(options);
    const credentials = options.credentials ?? (tls ? tlsCredentials(options, tlsSet) : grpc.credentials.createInsecure());
    const Service = loadService();
    this.client = new Service(target, credentials, clientOptions(options)) as RawClient;
  }

  /** Classifies one image: the answer and every exit event computed for it. */
  classify(image: ImageInput, options: RequestOptions = {}): Promise<ClassifyResult> {
    let request: Raw;
    try {
      request = { image: image.wire, options: this.callSettings(options, 'options') };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.unary<Raw>('classify', request, options).then((response) => ({
      answer: toExitEvent(response.answer),
      events: (response.events as Raw[]).map(toExitEvent),
      model: response.model,
    }));
  }

  /** Describes a model (the client's default model, or the server's, when none is named). */
  getModelInfo(model?: string, options: Pick<RequestOptions, UnaryOptionName> = {}): Promise<ModelInfo> {
    return this.unary<Raw>('getModelInfo', { model: model ?? this.options.model ?? '' }, options).then(toModelInfo);
  }

  /**
   * Streams frames and yields every exit event the moment it arrives, with its frame. Each frame's events come in exit
   * order and end with one final event (with `queuePolicy: 'LATEST'`, a frame the server replaced by a newer one ends
   * with a DROPPED event); the iteration ends when the source has ended and every frame is answered. At most
   * `maxFramesInFlight` frames (default 2) are in flight. A call that breaks with a transient failure is reopened (see
   * `maxStreamReconnects`) and the unanswered frames are resent. Breaking out of the loop cancels the call.
   */
  async *stream(frames: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RequestOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const { signal } = options;
    signal?.throwIfAborted();
    const deadline = this.deadline(options);
    // One trace context for the whole stream: every reconnection is a child of the same parent span.
    const trace = this.traceContext(options);
    // The same options on every call of the stream, checked before the first.
    const streamOptions = this.callSettings(options, 'options');
    const window = this.window;
    const maxReconnects = this.maxReconnects;
    const source = new FrameSource(frames);
    const pending = new Map<string, PendingFrame>();
    let sequence = 0;
    let failures = 0;
    let generation = 0;
    let stopped = false;
    let freed: (() => void) | undefined;
    let call: grpc.ClientDuplexStream<Raw, Raw> | undefined;
    let writer: Promise<void> = Promise.resolve();
    const wake = () => {
      const resolve = freed;
      freed = undefined;
      resolve?.();
    };
    const onAbort = () => call?.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });

    try {
      while (true) {
        const attempt = ++generation;
        const current = () => attempt === generation && !stopped;
        const active = this.client.classifyStream(this.metadata(options, trace), callOptions(deadline)) as grpc.ClientDuplexStream<Raw, Raw>;
        call = active;
        const events = new EventQueue<Raw>();
        let callBroken = false;
        active.on('data', (raw: Raw) => events.push(raw));
        active.on('error', (error: Error) => {
          callBroken = true;
          events.fail(error);
        });
        active.on('end', () => events.end());

        // A writer per call: the options, the frames still unanswered, then new frames while the window allows.
        let fatal: unknown;
        writer = (async () => {
          active.write({ options: streamOptions });
          for (const entry of pending.values()) {
            entry.resent = true;
            entry.sentAt = performance.now();
            if (!active.write({ frame: entry.wire })) {
              await once(active, 'drain');
            }
          }
          while (current()) {
            while (pending.size >= window) {
              await new Promise<void>((resolve) => (freed = resolve));
              if (!current()) {
                return;
              }
            }
            const frame = await source.next(current);
            if (!current()) {
              return;
            }
            if (frame === undefined) {
              active.end();
              return;
            }
            const id = frame.id ? frame.id : String(sequence);
            sequence++;
            if (pending.has(id)) {
              throw new RangeError(`Frame id '${id}' is already in flight; ids must be unique among the frames not yet answered.`);
            }
            const wire: Raw = { frameId: id, image: frame.image.wire };
            if (frame.budgetMs !== undefined) {
              wire.budget = toDuration(frame.budgetMs);
            }
            pending.set(id, { frame: { ...frame, id }, wire, sentAt: performance.now(), resent: false });
            if (!active.write({ frame: wire })) {
              await once(active, 'drain');
            }
          }
        })().catch((error: unknown) => {
          // A write that failed because the call broke is the reader's to handle; anything else ends the stream.
          if (!callBroken && current()) {
            fatal = error;
            active.cancel();
          }
        });

        let broken: grpc.ServiceError | undefined;
        try {
          for await (const raw of events) {
            failures = 0;
            const event = toExitEvent(raw);
            const entry = pending.get(event.frameId);
            if (!entry) {
              continue;
            }
            if (event.final) {
              pending.delete(event.frameId);
              wake();
            }
            yield { frame: entry.frame, event, roundTripMs: performance.now() - entry.sentAt, resent: entry.resent };
          }
        } catch (error) {
          broken = error as grpc.ServiceError;
        }

        // This call is over: its writer stops.
        generation++;
        wake();
        await writer;
        if (fatal !== undefined) {
          throw fatal;
        }
        if (signal?.aborted) {
          throw signal.reason;
        }
        if (broken === undefined) {
          if (source.exhausted && pending.size === 0) {
            return;
          }
          broken = Object.assign(new Error(`The server ended the stream with ${pending.size} frames unanswered.`), { code: grpc.status.UNAVAILABLE, details: '', metadata: new grpc.Metadata() });
        }
        const delay = this.retryDelay(broken, failures, maxReconnects, deadline);
        if (delay === undefined) {
          throw broken;
        }
        failures++;
        await sleep(delay, signal);
      }
    } finally {
      stopped = true;
      wake();
      signal?.removeEventListener('abort', onAbort);
      call?.cancel();
      await writer;
      source.close();
    }
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }

  /** One unary call, retried after a transient failure (the server restarting, a dropped connection) while retries and
   * the deadline allow; the deadline covers the retries. */
  private async unary<T>(method: string, request: object, options: Pick<RequestOptions, UnaryOptionName>): Promise<T> {
    const deadline = this.deadline(options);
    // Taken once, before the first await (the caller's async context): the retries are the same logical call.
    const trace = this.traceContext(options);
    const maxRetries = this.maxRetries;
    for (let retry = 0; ; retry++) {
      try {
        return await this.unaryOnce<T>(method, request, options, trace, deadline);
      } catch (error) {
        const delay = options.signal?.aborted ? undefined : this.retryDelay(error as grpc.ServiceError, retry, maxRetries, deadline);
        if (delay === undefined) {
          throw error;
        }
        await sleep(delay, options.signal);
      }
    }
  }

  /** When a call (timeoutMs, else the client's) must end, retries and reconnections included; undefined for never. */
  private deadline(options: Pick<RequestOptions, 'timeoutMs'>): number | undefined {
    const timeout = options.timeoutMs ?? this.options.timeoutMs;
    return timeout !== undefined ? Date.now() + timeout : undefined;
  }

  /** The wait before retry `retry` (0-based) after `error`; undefined when it must not be retried: not transient, no
   * retries left, or the longest wait it could be would pass the deadline (as the .NET SDK decides). */
  private retryDelay(error: grpc.ServiceError, retry: number, maxRetries: number, deadline: number | undefined): number | undefined {
    const bound = backoffBound(this.options.retryDelayMs ?? 100, this.options.maxRetryDelayMs ?? 2000, retry);
    if (!isTransient(error, this.options.retryResourceExhausted === true) || retry >= maxRetries || (deadline !== undefined && Date.now() + bound >= deadline)) {
      return undefined;
    }
    return bound * (0.5 + Math.random() * 0.5);
  }

  private unaryOnce<T>(method: string, request: object, options: Pick<RequestOptions, 'signal' | 'metadata'>, trace: TraceContext | undefined, deadline: number | undefined): Promise<T> {
    const { signal } = options;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => call.cancel();
      const call = this.client[method](request, this.metadata(options, trace), callOptions(deadline), (error: grpc.ServiceError | null, response: T) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) {
          reject(signal?.aborted ? signal.reason : error);
        } else {
          resolve(response);
        }
      }) as grpc.ClientUnaryCall;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The trace context of a call: its own `traceparent` (and `tracestate`) when given ('' for none), else what the
   * client's `traceContext` callback returns; checked, so that a malformed one is a TypeError, not a broken trace. */
  private traceContext(options: Pick<RequestOptions, 'traceparent' | 'tracestate'>): { traceparent: string; tracestate?: string } | undefined {
    const { traceparent, tracestate } = options;
    if (traceparent !== undefined && traceparent !== null) {
      return checkTraceContext(traceparent, tracestate, 'options.traceparent', 'options.tracestate');
    }
    if (tracestate !== undefined && tracestate !== null && tracestate !== '') {
      throw new TypeError('options.tracestate needs options.traceparent: a tracestate belongs to the traceparent it is sent with.');
    }
    const source = this.options.traceContext;
    if (!source) {
      return undefined;
    }
    const value: unknown = source();
    if (value === undefined || value === null) {
      return undefined;
    }
    if (typeof value !== 'object') {
      throw new TypeError(`options.traceContext returned ${describe(value)}; it must return { traceparent, tracestate? } or undefined.`);
    }
    const context = value as Record<string, unknown>;
    return checkTraceContext(context.traceparent, context.tracestate, "options.traceContext's traceparent", "options.traceContext's tracestate");
  }

  private metadata(options: Pick<RequestOptions, 'metadata'>, trace?: TraceContext): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.options.apiKey) {
      if (this.options.apiKeyHeader === 'x-api-key') {
        metadata.set('x-api-key', this.options.apiKey);
      } else {
        metadata.set('authorization', `Bearer ${this.options.apiKey}`);
      }
    }
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      metadata.set(key, value);
    }
    if (trace?.traceparent) {
      // The call's trace context replaces any given in `metadata`: one trace, not a mix of two.
      metadata.remove('traceparent');
      metadata.remove('tracestate');
      metadata.set('traceparent', trace.traceparent);
      if (trace.tracestate) {
        metadata.set('tracestate', trace.tracestate);
      }
    }
    return metadata;
  }

  /** The wire StreamOptions of a call: its own options over the client's defaults. Throws a TypeError (a RangeError for
   * a bad budget) naming the option, `${name}.mode` and so on. */
  private callSettings(options: RequestOptions, name: string): Raw {
    const own = (key: keyof RequestOptions) => options[key] !== undefined && options[key] !== null;
    if (this.defaults && !(['model', 'mode', 'preset', 'thresholds', 'budgetMs', 'topK', 'queuePolicy', 'alwaysAnswer'] as const).some(own)) {
      return this.defaults;
    }
    const mode = options.mode ?? this.options.mode;
    const queuePolicy = options.queuePolicy ?? this.options.queuePolicy;
    const alwaysAnswer = options.alwaysAnswer ?? this.options.alwaysAnswer;
    const preset = options.preset ?? this.options.preset;
    const budgetMs = options.budgetMs ?? this.options.budgetMs;
    const source = (key: keyof RequestOptions) => (own(key) ? name : 'options');
    const result: Raw = {
      model: options.model ?? this.options.model ?? '',
      mode: mode === undefined || mode === null ? 'INFERENCE_MODE_UNSPECIFIED' : `INFERENCE_MODE_${enumValue(mode, `${source('mode')}.mode`, InferenceMode)}`,
      topK: options.topK ?? this.options.topK ?? 0,
      queuePolicy: queuePolicy === undefined || queuePolicy === null ? 'QUEUE_POLICY_UNSPECIFIED' : `QUEUE_POLICY_${enumValue(queuePolicy, `${source('queuePolicy')}.queuePolicy`, QueuePolicy)}`,
      alwaysAnswer: checkBoolean(alwaysAnswer, `${source('alwaysAnswer')}.alwaysAnswer`),
    };
    if (options.thresholds) {
      result.thresholds = { explicit: { values: options.thresholds } };
    } else if (preset) {
      result.thresholds = { preset };
    }
    if (budgetMs !== undefined && budgetMs !== null) {
      result.budget = toDuration(budgetMs);
    }
    return result;
  }
}

/** The options of a unary call that getModelInfo takes too. */
type UnaryOptionName = 'timeoutMs' | 'signal' | 'metadata' | 'traceparent' | 'tracestate';

const apiKeyVariable = 'DFBNET_API_KEY';

/** A W3C traceparent in the form of version 00 (the only one defined; version ff is invalid): version, trace id,
 * parent span id, flags, in lowercase hex. */
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
/** A tracestate list member: a simple or multi-tenant key, '=', a value of printable ASCII but ',' and '=' that does
 * not end in a space. */
const tracestateMemberPattern = /^(?:[a-z][a-z0-9_\-*\/]{0,255}|[a-z0-9][a-z0-9_\-*\/]{0,240}@[a-z][a-z0-9_\-*\/]{0,13})=[ -+\--<>-~]{0,255}[!-+\--<>-~]$/;
const maxTracestateMembers = 32;

/** Checks a traceparent and its tracestate, naming `parentName`/`stateName` in the errors: '' or a missing traceparent
 * means none (a tracestate without one is an error). The tracestate is sent with its empty entries and the spaces
 * around its entries left out; with no entry, none is sent. */
function checkTraceContext(traceparent: unknown, tracestate: unknown, parentName: string, stateName: string): { traceparent: string; tracestate?: string } | undefined {
  if (tracestate !== undefined && tracestate !== null && typeof tracestate !== 'string') {
    throw new TypeError(`${stateName}: ${describe(tracestate)}, not a string.`);
  }
  const state = tracestate || undefined;
  if (traceparent === undefined || traceparent === null || traceparent === '') {
    if (state !== undefined) {
      throw new TypeError(`${stateName}: ${describe(state)} has no traceparent; a tracestate is sent only with the traceparent it belongs to.`);
    }
    return undefined;
  }
  if (typeof traceparent !== 'string') {
    throw new TypeError(`${parentName}: ${describe(traceparent)}, not a string.`);
  }
  const match = traceparentPattern.exec(traceparent);
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) {
    throw new TypeError(`${parentName}: ${describe(traceparent)} is not a W3C traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>, lowercase, with neither id all zeros.`);
  }
  if (state === undefined) {
    return { traceparent };
  }
  const members = state.split(',').map((member) => member.replace(/^ +| +$/g, '')).filter((member) => member !== '');
  const keys = new Set<string>();
  for (const member of members) {
    const key = member.slice(0, member.indexOf('='));
    if (!tracestateMemberPattern.test(member) || keys.has(key)) {
      throw new TypeError(`${stateName}: ${describe(state)} is not a W3C tracestate: comma-separated key=value entries (lowercase keys, each once; printable ASCII values without ',' or '='); ${describe(member)} is not one.`);
    }
    keys.add(key);
  }
  if (members.length > maxTracestateMembers) {
    throw new TypeError(`${stateName}: ${members.length} entries; a W3C tracestate has ${maxTracestateMembers} at most.`);
  }
  return members.length > 0 ? { traceparent, tracestate: members.join(',') } : { traceparent };
}

/** A value for an error message: strings quoted (and cut when long), others by type. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}...` : value);
  }
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

const tlsOptionNames = ['caCertificate', 'clientCertificate', 'clientKey'] as const;
type TlsOptionName = (typeof tlsOptionNames)[number];

/** The API key to send: `apiKey` when given ('' for none), else DFBNET_API_KEY when set and not empty. */
function resolveApiKey(apiKey: string | undefined): string | undefined {
  let source = 'options.apiKey';
  if (apiKey === undefined || apiKey === null) {
    apiKey = process.env[apiKeyVariable] || undefined;
    source = `the environment variable ${apiKeyVariable}`;
  }
  if (apiKey === undefined || apiKey === '') {
    return undefined;
  }
  if (typeof apiKey !== 'string') {
    throw new TypeError(`${source} must be a string.`);
  }
  // grpc-js accepts printable ASCII in a header value and would otherwise fail each call with the key in its message.
  if (!/^[ -~]*$/.test(apiKey)) {
    throw new TypeError(`${source} holds a character that a gRPC header cannot carry (only printable ASCII can; a trailing newline read from a file?).`);
  }
  return apiKey;
}

/** Those of caCertificate, clientCertificate and clientKey that are set; checks that none is set with `credentials`
 * and that a client certificate comes with its key. */
function tlsOptionsSet(options: DfbNetClientOptions): TlsOptionName[] {
  const set = tlsOptionNames.filter((name) => options[name] !== undefined && options[name] !== null);
  if (set.length === 0) {
    return set;
  }
  const named = set.map((name) => `options.${name}`).join(', ');
  if (options.credentials) {
    throw new TypeError(`options.credentials cannot be combined with ${named}: give the TLS settings either as credentials or as these options.`);
  }
  if (set.includes('clientCertificate') !== set.includes('clientKey')) {
    throw new TypeError('options.clientCertificate and options.clientKey go together (mutual TLS): set both or neither.');
  }
  if (!options.address.startsWith('https://')) {
    throw new TypeError(`${named} ${set.length > 1 ? 'need' : 'needs'} an https:// address; '${options.address}' is not one.`);
  }
  return set;
}

/** TLS credentials of an https:// address: the system's roots, or the PEM options that are set. */
function tlsCredentials(options: DfbNetClientOptions, set: TlsOptionName[]): grpc.ChannelCredentials {
  if (set.length === 0) {
    return grpc.credentials.createSsl();
  }
  const ca = readPem(options, 'caCertificate');
  const cert = readPem(options, 'clientCertificate');
  const key = readPem(options, 'clientKey');
  try {
    return grpc.credentials.createSsl(ca, key, cert);
  } catch (error) {
    throw new Error(`The TLS settings (${set.map((name) => `options.${name}`).join(', ')}) are not usable: ${(error as Error).message}`, { cause: error });
  }
}

/** A PEM option's bytes: a Buffer (or any Uint8Array) as it is, a string as the path of a file to read. */
function readPem(options: DfbNetClientOptions, name: TlsOptionName): Buffer | null {
  const value: unknown = options[name];
  if (value === undefined || value === null) {
    return null;
  }
  if (value instanceof Uint8Array) {
    if (value.length === 0) {
      throw new TypeError(`options.${name} is an empty buffer; it must hold PEM contents.`);
    }
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`options.${name} must be a Buffer of PEM contents or the path of a PEM file (a string).`);
  }
  if (value.includes('-----BEGIN')) {
    throw new TypeError(`options.${name} looks like PEM text, but a string is the path of a PEM file: pass PEM contents as a Buffer (Buffer.from(pem)).`);
  }
  if (value === '') {
    throw new TypeError(`options.${name} is an empty path.`);
  }
  try {
    return readFileSync(value);
  } catch (error) {
    throw new Error(`options.${name}: cannot read '${value}': ${(error as Error).message}`, { cause: error });
  }
}

/** A frame sent on the current call and not answered yet: what a reconnection resends. */
interface PendingFrame {
  frame: InputFrame & { id: string };
  wire: Raw;
  sentAt: number;
  resent: boolean;
}

/**
 * The caller's frames, pulled one at a time by whichever call's writer is current. A frame pulled for a writer whose
 * call broke meanwhile is kept for the next writer, so that no frame is lost or sent twice across a reconnection.
 */
class FrameSource {
  private readonly iterator: AsyncIterator<InputFrame> | Iterator<InputFrame>;
  private readonly carried: InputFrame[] = [];
  private pulling: Promise<void> | undefined;
  private done = false;
  private failure: { error: unknown } | undefined;

  constructor(frames: AsyncIterable<InputFrame> | Iterable<InputFrame>) {
    this.iterator = Symbol.asyncIterator in frames ? (frames as AsyncIterable<InputFrame>)[Symbol.asyncIterator]() : (frames as Iterable<InputFrame>)[Symbol.iterator]();
  }

  /** True once the source has ended and every frame it gave is taken. */
  get exhausted(): boolean {
    return this.done && this.carried.length === 0;
  }

  /** The next frame, or undefined at the end (or when the asking writer is no longer current). */
  async next(current: () => boolean): Promise<InputFrame | undefined> {
    while (this.pulling) {
      await this.pulling;
    }
    if (this.carried.length > 0) {
      return this.carried.shift();
    }
    if (this.failure) {
      // The source failed while its frame was being pulled for a call that broke meanwhile: the next call sees it.
      throw this.failure.error;
    }
    if (this.done) {
      return undefined;
    }
    let release!: () => void;
    this.pulling = new Promise<void>((resolve) => (release = resolve));
    try {
      let result: IteratorResult<InputFrame>;
      try {
        result = await this.iterator.next();
      } catch (error) {
        this.failure = { error };
        throw error;
      }
      if (result.done) {
        this.done = true;
        return undefined;
      }
      if (!current()) {
        this.carried.push(result.value);
        return undefined;
      }
      return result.value;
    } finally {
      this.pulling = undefined;
      release();
    }
  }

  /** Lets a generator source run its cleanup; errors there are the source's own. */
  close(): void {
    if (!this.done) {
      this.done = true;
      void Promise.resolve(this.iterator.return?.()).catch(() => {});
    }
  }
}

function callOptions(deadline: number | undefined): grpc.CallOptions {
  return deadline !== undefined ? { deadline: new Date(deadline) } : {};
}

/** The longest wait before retry or reconnection `retry` (0-based): `first` doubled `retry` times, at most `max`; the
 * wait itself is between half and all of it. */
function backoffBound(first: number, max: number, retry: number): number {
  return Math.min(max, first * 2 ** Math.min(retry, 30));
}

/** How grpc-js words an INTERNAL status that it made itself because the HTTP/2 transport broke under the call, with no
 * status from a server: a stream reset (`Received RST_STREAM with code 2 (Internal server error)`, `... with code 0
 * (Call ended without gRPC status)`, `... triggered by internal client error: ...`), a session that went away as the
 * call started (`Failed to start HTTP/2 stream with error ...`), a dropped connection. A server's own INTERNAL status
 * carries the server's message instead. */
const transportBreak = /^(?:Received RST_STREAM with code \d+|Failed to start HTTP\/2 stream|Connection dropped)/;

/** Worth another attempt, as in the .NET SDK: UNAVAILABLE (the server is down or restarting, the connection broke: no
 * answer was produced, and classifying has no side effects); INTERNAL where grpc-js reports a transport break rather
 * than a server's status (the same break, seen a moment earlier); RESOURCE_EXHAUSTED only with
 * `retryResourceExhausted`. */
function isTransient(error: Partial<grpc.ServiceError> | null | undefined, retryResourceExhausted = false): boolean {
  if (!error) {
    return false;
  }
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
      return true;
    case grpc.status.INTERNAL:
      return typeof error.details === 'string' && transportBreak.test(error.details);
    case grpc.status.RESOURCE_EXHAUSTED:
      return retryResourceExhausted;
    default:
      return false;
  }
}

/** The grpc-js client options: the SDK's channel options, the caller's `channelOptions` over them, and the caller's
 * interceptors. */
function clientOptions(options: DfbNetClientOptions): grpc.ClientOptions {
  const { channelOptions, interceptors } = options;
  if (channelOptions !== undefined && channelOptions !== null && (typeof channelOptions !== 'object' || Array.isArray(channelOptions))) {
    throw new TypeError(`options.channelOptions must be an object of grpc-js channel options (for example { 'grpc.keepalive_time_ms': 30000 }), not ${describe(channelOptions)}.`);
  }
  const result: grpc.ClientOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, ...channelOptions };
  if (interceptors !== undefined && interceptors !== null) {
    if (!Array.isArray(interceptors) || interceptors.some((interceptor) => typeof interceptor !== 'function')) {
      throw new TypeError('options.interceptors must be an array of grpc-js interceptors: functions (options, nextCall) => InterceptingCall.');
    }
    if (interceptors.length > 0) {
      result.interceptors = [...interceptors];
    }
  }
  return result;
}

/** The canonical name of an enum option's value: its SCREAMING_SNAKE_CASE name, or the same in lowercase kebab-case
 * (`'first-exit'`, `'latest'`). Anything else is a TypeError naming the option and the values it takes. */
function enumValue(value: unknown, name: string, values: Readonly<Record<string, string>>): string {
  const names = Object.values(values);
  if (typeof value === 'string') {
    if (names.includes(value)) {
      return value;
    }
    const canonical = value.toUpperCase().replace(/-/g, '_');
    if (names.includes(canonical) && value === canonical.toLowerCase().replace(/_/g, '-')) {
      return canonical;
    }
  }
  const kebab = names.map((n) => `'${n.toLowerCase().replace(/_/g, '-')}'`).join(', ');
  throw new TypeError(`${name}: ${describe(value)} is not one of ${names.map((n) => `'${n}'`).join(', ')} (or ${kebab}).`);
}

function checkBoolean(value: unknown, name: string): boolean {
  if (value === undefined || value === null) {
    return false;
  }
  if (typeof value !== 'boolean') {
    throw new TypeError(`${name}: ${describe(value)}, not a boolean.`);
  }
  return value;
}

/** A count option: `fallback` when not given, else an integer of at least `min`. */
function checkCount(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`${name}: ${describe(value)} is not an integer of at least ${min}.`);
  }
  return value;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An unbounded hand-over from grpc-js events to an async iterator (the server's events are small and the consumer
 * is the only reader). */
class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: (() => void) | undefined;
  private finished = false;
  private error: unknown;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  end(): void {
    this.finished = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.error ??= error;
    this.finished = true;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.items.length > 0) {
        yield this.items.shift()!;
        continue;
      }
      if (this.error !== undefined) {
        throw this.error;
      }
      if (this.finished) {
        return;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

function toDuration(ms: number): { seconds: number; nanos: number } {
  if (!(ms >= 0) || !Number.isFinite(ms)) {
    throw new RangeError(`Budget ${ms} ms is not a non-negative number.`);
  }
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

function toMs(duration: Raw | null | undefined): number {
  return duration ? Number(duration.seconds) * 1000 + duration.nanos / 1e6 : 0;
}

function toPrediction(raw: Raw | null | undefined): Prediction | undefined {
  if (!raw) {
    return undefined;
  }
  return {
    classIndex: raw.classIndex,
    className: raw.className,
    confidence: raw.confidence,
    topK: (raw.topK as Raw[]).map((s) => ({ classIndex: s.classIndex, className: s.className, probability: s.probability })),
  };
}

function toExitEvent(raw: Raw): ExitEvent {
  const event: ExitEvent = {
    frameId: raw.frameId,
    exit: raw.exit,
    kind: String(raw.kind).replace(/^EXIT_KIND_/, '') as ExitKind,
    final: raw.final,
    serverTimeMs: toMs(raw.serverTime),
    queueTimeMs: toMs(raw.queueTime),
    exitsComputed: raw.exitsComputed,
  };
  const prediction = toPrediction(raw.prediction);
  const fusion = toPrediction(raw.runningFusion);
  if (prediction) event.prediction = prediction;
  if (fusion) event.runningFusion = fusion;
  if (raw.error) event.error = raw.error;
  if (raw.errorCode) event.errorCode = raw.errorCode;
  if (raw.preset) event.preset = raw.preset;
  return event;
}

function toModelInfo(raw: Raw): ModelInfo {
  const mode = String(raw.defaultMode).replace(/^INFERENCE_MODE_/, '');
  return {
    name: raw.name,
    description: raw.description,
    untrained: raw.untrained,
    classes: raw.classes,
    inputWidth: raw.inputWidth,
    inputHeight: raw.inputHeight,
    exits: (raw.exits as Raw[]).map((e) => ({
      exit: e.exit,
      stageFile: e.stageFile,
      flops: Number(e.flops),
      parameters: Number(e.parameters),
      executionProvider: e.executionProvider,
      capturesGraph: Boolean(e.capturesGraph),
      latencyEstimateMs: toMs(e.latencyEstimate),
      ...(e.accuracy !== undefined && e.accuracy !== null ? { accuracy: e.accuracy } : {}),
    })),
    presets: (raw.presets as Raw[]).map((p) => ({ name: p.name, values: p.values, ...(p.accuracy !== undefined && p.accuracy !== null ? { accuracy: p.accuracy } : {}) })),
    defaultPreset: raw.defaultPreset,
    executionProvider: raw.executionProvider,
    defaultMode: mode as ModelInfo['defaultMode'],
    servedModels: raw.servedModels,
    isDefault: raw.isDefault,
  };
}
