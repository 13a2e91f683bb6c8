// A live source with the DfbNet Node.js client: frames pushed at the source's own rate, the server keeping the newest
// (queue policy LATEST), a per-frame budget answered late rather than never, keepalive pings and an interceptor that
// counts calls. Run: node build/examples/live-camera.js photo.png [frames]   (DFBNET_ADDRESS defaults to localhost:50051)
import { DfbNetClient, ExitKind, ImageInput, InferenceMode, InterceptingCall, QueuePolicy, type InputFrame, type Interceptor } from '@dfbnet/client';

const calls = new Map<string, number>();
const countCalls: Interceptor = (options, nextCall) => {
  calls.set(options.method_definition.path, (calls.get(options.method_definition.path) ?? 0) + 1);
  return new InterceptingCall(nextCall(options));
};

const client = new DfbNetClient({
  address: process.env.DFBNET_ADDRESS ?? 'localhost:50051',
  mode: InferenceMode.FIRST_EXIT,
  queuePolicy: QueuePolicy.LATEST,
  maxFramesInFlight: 16,
  budgetMs: 30,
  alwaysAnswer: true,
  channelOptions: { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 },
  interceptors: [countCalls],
});

const image = await ImageInput.fromFile(process.argv[2] ?? 'photo.png');
const count = Number(process.argv[3] ?? 50);

/** A stand-in camera: one frame every 5 ms, whatever the server is doing; every tenth frame has a tighter budget. */
async function* camera(): AsyncGenerator<InputFrame> {
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    yield { id: `cam-${i}`, image, ...(i % 10 === 9 ? { budgetMs: 10 } : {}) };
  }
}

const finals = new Map<string, number>();
try {
  for await (const { event, roundTripMs } of client.stream(camera())) {
    if (event.final) {
      finals.set(event.kind, (finals.get(event.kind) ?? 0) + 1);
      if (event.kind !== ExitKind.DROPPED) {
        console.log(`${event.frameId} ${event.kind} ${event.prediction?.className} after ${roundTripMs.toFixed(1)} ms (queued ${event.queueTimeMs.toFixed(1)} ms)`);
      }
    }
  }
} finally {
  client.close();
}
console.log(`finals: ${[...finals].map(([kind, n]) => `${kind} ${n}`).join(', ')}; calls: ${[...calls].map(([path, n]) => `${path} ${n}`).join(', ')}`);
