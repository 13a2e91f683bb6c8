/*
 * String enums. Every enum value the SDK takes or gives is spelled in SCREAMING_SNAKE_CASE: the proto's value name
 * without its prefix (INFERENCE_MODE_FIRST_EXIT -> 'FIRST_EXIT', EXIT_KIND_EARLY_EXIT -> 'EARLY_EXIT',
 * QUEUE_POLICY_LATEST -> 'LATEST'). Each enum is both a type and an object of its values (`InferenceMode.FULL`), so
 * that code can name a value without a string literal. On input (options), the lowercase kebab-case spelling that the
 * server's metadata headers and the `dfbnet` CLI use ('first-exit', 'latest'; also the SDK's earlier spelling of
 * modes) is accepted as well; the SDK never gives it back.
 */

/** How far a frame runs: stop at the first confident exit, keep refining while the budget allows, or run every exit. */
export const InferenceMode = Object.freeze({ FIRST_EXIT: 'FIRST_EXIT', REFINE: 'REFINE', FULL: 'FULL' } as const);
/** How far a frame runs (see the proto's InferenceMode): `'FIRST_EXIT' | 'REFINE' | 'FULL'`. */
export type InferenceMode = (typeof InferenceMode)[keyof typeof InferenceMode];
/** An inference mode as options take it: {@link InferenceMode}, or the kebab-case spelling of the server's `dfbnet-mode`
 * header and of earlier versions of this SDK (`'first-exit' | 'refine' | 'full'`). */
export type InferenceModeInput = InferenceMode | 'first-exit' | 'refine' | 'full';

/** What an exit event reports (see the proto's ExitKind). */
export const ExitKind = Object.freeze({
  BELOW_THRESHOLD: 'BELOW_THRESHOLD',
  EARLY_EXIT: 'EARLY_EXIT',
  REFINEMENT: 'REFINEMENT',
  FUSED: 'FUSED',
  BUDGET_CUT: 'BUDGET_CUT',
  ERROR: 'ERROR',
  DROPPED: 'DROPPED',
} as const);
/** What an exit event reports: `'BELOW_THRESHOLD' | 'EARLY_EXIT' | 'REFINEMENT' | 'FUSED' | 'BUDGET_CUT' | 'ERROR' |
 * 'DROPPED'`. */
export type ExitKind = (typeof ExitKind)[keyof typeof ExitKind];

/** What the server does with a stream's frame that arrives while the stream's queue is full (see the proto's
 * QueuePolicy). `QUEUE` waits: the server stops reading the stream until a queued frame starts, and HTTP/2 flow control
 * slows the client; nothing is dropped. `LATEST` (live cameras) keeps the newest: the new frame replaces the stream's
 * oldest frame that has not started, and the replaced frame ends with a final `DROPPED` event. */
export const QueuePolicy = Object.freeze({ QUEUE: 'QUEUE', LATEST: 'LATEST' } as const);
/** A stream's queue policy: `'QUEUE' | 'LATEST'`. */
export type QueuePolicy = (typeof QueuePolicy)[keyof typeof QueuePolicy];
/** A queue policy as options take it: {@link QueuePolicy}, or the lowercase spelling of the server's
 * `dfbnet-queue-policy` header (`'queue' | 'latest'`). */
export type QueuePolicyInput = QueuePolicy | 'queue' | 'latest';

/** One class and its softmax probability. */
export interface ClassScore {
  classIndex: number;
  className: string;
  probability: number;
}

/** A prediction: the top class and the top-k list. */
export interface Prediction {
  classIndex: number;
  className: string;
  /** Probability of the top class. */
  confidence: number;
  topK: ClassScore[];
}

/** Something that happened to one frame: an exit's result, fusion, a budget cut or an error. */
export interface ExitEvent {
  frameId: string;
  /** 1..M for an exit's own event; 0 for FUSED, BUDGET_CUT, ERROR and DROPPED. */
  exit: number;
  kind: ExitKind;
  /** The exit's own prediction (the fused one for FUSED and BUDGET_CUT); undefined on ERROR and DROPPED, and on a
   * BUDGET_CUT before any exit ran (`exitsComputed` 0). */
  prediction?: Prediction;
  /** The mean softmax of the exits computed so far. */
  runningFusion?: Prediction;
  /** True on the frame's last event. */
  final: boolean;
  /** Server time since the frame arrived, in milliseconds. */
  serverTimeMs: number;
  /** Time the frame waited in the server's queues before its first stage ran, in milliseconds (0 until then). */
  queueTimeMs: number;
  exitsComputed: number;
  /** The threshold preset the frame ran with: the requested one, or a faster one the server's load-adaptive quality
   * ladder chose under load; undefined for explicit thresholds. */
  preset?: string;
  /** On ERROR: what was wrong. */
  error?: string;
  /** On ERROR: the gRPC status name the failure maps to (for example "InvalidArgument"). */
  errorCode?: string;
}

/** The answer to classify(): the final event and every event computed for the image, in order. */
export interface ClassifyResult {
  answer: ExitEvent;
  events: ExitEvent[];
  model: string;
}

/** One exit of a model. */
export interface ExitInfo {
  exit: number;
  stageFile: string;
  flops: number;
  parameters: number;
  executionProvider: string;
  /** True when the stage replays a captured CUDA graph. */
  capturesGraph: boolean;
  latencyEstimateMs: number;
  accuracy?: number;
}

/** A named set of thresholds. */
export interface ThresholdPreset {
  name: string;
  values: number[];
  accuracy?: number;
}

/** A model's description (GetModelInfo). */
export interface ModelInfo {
  name: string;
  description: string;
  untrained: boolean;
  classes: string[];
  inputWidth: number;
  inputHeight: number;
  exits: ExitInfo[];
  presets: ThresholdPreset[];
  defaultPreset: string;
  executionProvider: string;
  /** The server's default mode, or `'UNSPECIFIED'` where it gives none. */
  defaultMode: InferenceMode | 'UNSPECIFIED';
  servedModels: string[];
  isDefault: boolean;
}

/** Settings of one call; each unset one falls back to the client's. */
export interface RequestOptions {
  model?: string;
  mode?: InferenceModeInput;
  /** A threshold preset of the model; ignored when `thresholds` is set. */
  preset?: string;
  /** Explicit thresholds p_1..p_M. */
  thresholds?: number[];
  /** The latency budget of each frame in milliseconds, measured from the frame's arrival at the server (a stream's
   * frame may override it with its own `budgetMs`); 0 for none. */
  budgetMs?: number;
  topK?: number;
  /** Streams: what the server does with a frame that arrives while the stream's queue is full: `'QUEUE'` waits,
   * `'LATEST'` (live cameras) replaces the oldest waiting frame, which ends with a final DROPPED event. Not given: the
   * client's `queuePolicy`, else the server's default (`DfbNet:StreamQueuePolicy`, QUEUE unless set). Sent with
   * classify too, where it changes nothing. */
  queuePolicy?: QueuePolicyInput;
  /** With a budget: run exit 1 even when the budget cannot be met, a late answer rather than none. Not set: a frame
   * whose budget is spent, or too short for exit 1, ends at once with a BUDGET_CUT event without a prediction. Not
   * given: the client's `alwaysAnswer` (default false). */
  alwaysAnswer?: boolean;
  /** Deadline of the call (the whole stream for stream()) in milliseconds from now. */
  timeoutMs?: number;
  /** Cancels the call; the promise or iteration then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Extra metadata sent with the call. Its `traceparent` and `tracestate` entries are replaced when the call sends a
   * trace context of its own (the options below, or the client's `traceContext`). */
  metadata?: Record<string, string>;
  /** The W3C trace context (https://www.w3.org/TR/trace-context/) of this call, instead of what the client's
   * `traceContext` callback gives (which is then not called): `00-<32 hex trace id>-<16 hex parent span id>-<2 hex
   * flags>`, lowercase, ids not all zero. The server's spans of the call join that trace as children of that span.
   * `''` sends no trace context for this call, whatever the callback gives. A value of another form is a TypeError
   * naming `options.traceparent` (a rejection of the call). */
  traceparent?: string;
  /** The W3C `tracestate` sent with `traceparent` (vendor entries `key=value`, comma-separated, printable ASCII); needs
   * `traceparent` (else a TypeError). Not given or `''`: none. */
  tracestate?: string;
}

/** The W3C trace context of one call (https://www.w3.org/TR/trace-context/), as the client's `traceContext` callback
 * returns it: the two header values, as an OpenTelemetry propagator writes them into a carrier. */
export interface TraceContext {
  /** `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`, lowercase, ids not all zero. Missing or `''`: the
   * call sends no trace context (an empty carrier: no active span). */
  traceparent?: string;
  /** Vendor entries (`key=value`, comma-separated, printable ASCII), sent only with a `traceparent`. */
  tracestate?: string;
}
