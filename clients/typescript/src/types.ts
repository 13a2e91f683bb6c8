/** How far a frame runs: stop at the first confident exit, keep refining while the budget allows, or run every exit. */
export type InferenceMode = 'first-exit' | 'refine' | 'full';

/** What an exit event reports (see the proto's ExitKind). */
export type ExitKind = 'BELOW_THRESHOLD' | 'EARLY_EXIT' | 'REFINEMENT' | 'FUSED' | 'BUDGET_CUT' | 'ERROR';

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
  /** 1..M for an exit's own event; 0 for FUSED, BUDGET_CUT and ERROR. */
  exit: number;
  kind: ExitKind;
  /** The exit's own prediction (the fused one for FUSED and BUDGET_CUT); undefined on ERROR. */
  prediction?: Prediction;
  /** The mean softmax of the exits computed so far. */
  runningFusion?: Prediction;
  /** True on the frame's last event. */
  final: boolean;
  /** Server time since the frame arrived, in milliseconds. */
  serverTimeMs: number;
  exitsComputed: number;
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
  defaultMode: InferenceMode | 'unspecified';
  servedModels: string[];
  isDefault: boolean;
}

/** Settings of one call; each unset one falls back to the client's. */
export interface RequestOptions {
  model?: string;
  mode?: InferenceMode;
  /** A threshold preset of the model; ignored when `thresholds` is set. */
  preset?: string;
  /** Explicit thresholds p_1..p_M. */
  thresholds?: number[];
  /** Per-frame latency budget in milliseconds. */
  budgetMs?: number;
  topK?: number;
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
