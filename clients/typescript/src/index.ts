export { DfbNetClient } from './client.js';
export type { DfbNetClientOptions, InputFrame, StreamEvent } from './client.js';
export { ImageInput } from './image.js';
export type { WireImage } from './image.js';
export { ExitKind, InferenceMode, QueuePolicy } from './types.js';
export type { ClassScore, ClassifyResult, ExitEvent, ExitInfo, InferenceModeInput, ModelInfo, Prediction, QueuePolicyInput, RequestOptions, ThresholdPreset, TraceContext } from './types.js';
// grpc-js names that the options use: status codes to compare `error.code` with, and what an interceptor is made of.
export { InterceptingCall, status } from '@grpc/grpc-js';
export type { ChannelOptions, Interceptor, InterceptorOptions, ServiceError } from '@grpc/grpc-js';
