// Quick start of the DfbNet Node.js client: classify one image, then stream it three times as frames.
// Run: node build/examples/quickstart.js photo.png   (DFBNET_ADDRESS defaults to localhost:50051)
import { DfbNetClient, ImageInput } from '@dfbnet/client';

const client = new DfbNetClient({ address: process.env.DFBNET_ADDRESS ?? 'localhost:50051', mode: 'first-exit' });
try {
  const info = await client.getModelInfo();
  console.log(`model ${info.name}: ${info.exits.length} exits, classes ${info.classes.join(', ')}`);

  const image = await ImageInput.fromFile(process.argv[2] ?? 'photo.png');
  const { answer, events } = await client.classify(image);
  console.log(`answer: ${answer.prediction?.className} ${answer.prediction?.confidence.toFixed(3)} (${answer.kind} at exit ${answer.exit}, ${events.length} events)`);

  async function* frames() {
    for (let i = 0; i < 3; i++) {
      yield { id: `frame-${i}`, image };
    }
  }

  for await (const { frame, event, roundTripMs } of client.stream(frames(), { mode: 'refine' })) {
    console.log(`${frame.id} exit ${event.exit} ${event.kind} ${event.prediction?.className}${event.final ? ` final after ${roundTripMs.toFixed(1)} ms` : ''}`);
  }
} finally {
  client.close();
}
