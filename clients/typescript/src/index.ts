export { DfbNetClient } from './client.js';
export type { DfbNetClientOptions, InputFrame, StreamEvent } from './client.js';
export { ImageInput } from './image.js';
export type { WireImage } from './image.js';
export type { ClassScore, ClassifyResult, ExitEvent, ExitInfo, ExitKind, InferenceMode, ModelInfo, Prediction, RequestOptions, ThresholdPreset, TraceContext } from './types.js';
export { status } from '@grpc/grpc-js';
