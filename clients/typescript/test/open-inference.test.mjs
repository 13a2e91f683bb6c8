// The Open Inference Protocol from a second gRPC stack: @grpc/grpc-js with the protocol's .proto files loaded at run
// time, no DfbNet code. This is how an existing KServe v2 / Triton client reaches DfbNet.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { encodePng, cifarRgb, repoRoot, startServer } from '../test-support/server.mjs';

let server;
let client;

before(async () => {
  server = await startServer();
  const definition = await protoLoader.load('inference/grpc_service.proto', {
    includeDirs: [join(repoRoot, 'protos')],
    keepCase: true,
    longs: Number,
    defaults: true,
    oneofs: true,
  });
  const inference = grpc.loadPackageDefinition(definition).inference;
  client = new inference.GRPCInferenceService(server.address.replace(/^http:\/\//, ''), grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await server?.stop();
});

const call = (method, request) => new Promise((resolve, reject) => client[method](request, (error, response) => (error ? reject(error) : resolve(response))));

const imageRequest = (index, parameters = {}) => ({
  model_name: 'default',
  id: `img-${index}`,
  inputs: [{ name: 'IMAGE', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [encodePng(cifarRgb(index), 32, 32)] } }],
  outputs: [{ name: 'PROBABILITIES', parameters: { classification: { int64_param: 3 } } }],
  parameters,
});

test('a plain grpc-js client classifies an image with ModelInfer', async () => {
  assert.equal((await call('ServerReady', {})).ready, true);
  const metadata = await call('ModelMetadata', { name: 'default' });
  assert.deepEqual(metadata.inputs.map((i) => i.name), ['IMAGE', 'FRAME', 'TENSOR']);

  const response = await call('ModelInfer', imageRequest(3));
  assert.equal(response.id, 'img-3');
  assert.equal(response.outputs[0].datatype, 'BYTES');
  // Triton's raw BYTES layout: a 4-byte little-endian length, then "score:index:label".
  const raw = response.raw_output_contents[0];
  const first = raw.subarray(4, 4 + raw.readUInt32LE(0)).toString('utf8').split(':');
  assert.equal(first.length, 3);
  assert.ok(Number(first[0]) > 0 && Number(first[0]) <= 1);
  assert.ok(['early_exit', 'fused'].includes(response.parameters.exit_kind.string_param));
});

test('a plain grpc-js client receives per-exit responses over ModelStreamInfer', async () => {
  const stream = client.ModelStreamInfer();
  const responses = [];
  const done = new Promise((resolve, reject) => {
    stream.on('data', (r) => responses.push(r));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  stream.write(imageRequest(5, { mode: { string_param: 'full' } }));
  stream.end();
  await done;

  assert.deepEqual(responses.map((r) => r.infer_response.parameters.exit.int64_param), [1, 2, 3, 0]);
  assert.deepEqual(responses.map((r) => r.infer_response.parameters.triton_final_response.bool_param), [false, false, false, true]);
  assert.ok(responses.every((r) => r.error_message === '' && r.infer_response.id === 'img-5'));
});
