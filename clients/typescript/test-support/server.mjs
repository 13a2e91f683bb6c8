// Starts a real DfbNet server for the tests: the built .NET server (dfbnet-server.dll) on a free loopback port, serving
// an untrained synthetic model written by the built dfbnet CLI. Build the .NET solution first (dotnet build -c Release),
// or point DFBNET_SERVER_DLL and DFBNET_CLI_DLL at the two dlls.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { DfbNetClient, status } from '@dfbnet/client';

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(packageRoot, '..', '..');

function builtDll(variable, project, name) {
  const dll = process.env[variable] || join(repoRoot, 'src', project, 'bin', 'Release', 'net10.0', 'linux-x64', name);
  if (!existsSync(dll)) {
    throw new Error(`${dll} not found: build the .NET solution first (dotnet build DfbNet.sln -c Release) or set ${variable}.`);
  }
  return dll;
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts a server; resolves once it answers GetModelInfo. `restart()` kills it (as a crash would) and starts it again
 * on the same address; `stop()` ends it and removes its model folder. `output()` is everything the server wrote to
 * stdout and stderr so far, across restarts; `logEntries()` parses the lines of it that are JSON (the server's console
 * log with `--Logging:Console:FormatterName=json`).
 *
 * Options (all optional; none gives the plain h2c server at `127.0.0.1:PORT`):
 * - `args`: extra server arguments (for example `--DfbNet:Auth:ApiKeys:tests=KEY` or `--DfbNet:Tls:CertificateFile=...`);
 * - `scheme`: `'http'` (default) or `'https'` (TLS: pass the certificate in `args`); with https, `address` is
 *   `https://127.0.0.1:PORT`;
 * - `client`: DfbNetClient options of the readiness probe (`apiKey`, `caCertificate`, `clientCertificate`,
 *   `clientKey`...), also returned as `clientOptions` (with `address`) for the tests' own clients;
 * - `env`: extra environment variables of the server process.
 */
export async function startServer({ args = [], scheme = 'http', client = {}, env = {} } = {}) {
  if (scheme !== 'http' && scheme !== 'https') {
    throw new TypeError(`scheme '${scheme}' is not http or https`);
  }
  const root = mkdtempSync(join(tmpdir(), 'dfbnet-ts-'));
  execFileSync('dotnet', [builtDll('DFBNET_CLI_DLL', 'DfbNet.Cli', 'dfbnet.dll'), 'synth', '--out', join(root, 'default')], { stdio: 'pipe' });
  const port = await freePort();
  const hostPort = `127.0.0.1:${port}`;
  const address = scheme === 'https' ? `https://${hostPort}` : hostPort;
  const clientOptions = { ...client, address };
  let child;
  let exited;
  let output = '';
  let allOutput = '';

  const launch = async () => {
    output = '';
    child = spawn('dotnet', [
      builtDll('DFBNET_SERVER_DLL', 'DfbNet.Server', 'dfbnet-server.dll'),
      '--urls', `${scheme}://${hostPort}`,
      `--DfbNet:ModelRoot=${root}`,
      '--DfbNet:WarmupRuns=1',
      '--DfbNet:IntraOpThreads=1',
      '--Logging:LogLevel:Default=Warning',
      ...args,
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const capture = (d) => {
      output += d;
      allOutput += d;
    };
    child.stdout.on('data', capture);
    child.stderr.on('data', capture);
    exited = new Promise((resolve) => child.once('exit', resolve));
    const probe = new DfbNetClient(clientOptions);
    try {
      const deadline = Date.now() + 60_000;
      while (true) {
        if (child.exitCode !== null) {
          throw new Error(`the server exited with ${child.exitCode}: ${output}`);
        }
        try {
          await probe.getModelInfo(undefined, { timeoutMs: 1000 });
          return;
        } catch (error) {
          if (error.code === status.UNAUTHENTICATED || error.code === status.PERMISSION_DENIED) {
            throw new Error(`the server refused the readiness probe's credentials: ${error.details}\n${output}`);
          }
          if (Date.now() > deadline) {
            throw new Error(`the server did not answer within 60 s: ${error}\n${output}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    } finally {
      probe.close();
    }
  };

  const kill = async (signal) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };

  const stop = async () => {
    await kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  };

  const restart = async () => {
    await kill('SIGKILL');
    await launch();
  };

  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  const logEntries = () => {
    const entries = [];
    for (const line of allOutput.split('\n')) {
      if (line.startsWith('{')) {
        try {
          entries.push(JSON.parse(line));
        } catch {
          // a line still being written
        }
      }
    }
    return entries;
  };

  return { address, root, clientOptions, stop, restart, output: () => allOutput, logEntries };
}

/**
 * A stand-in OpenTelemetry collector: an HTTP server that takes OTLP/HTTP exports (`POST /v1/traces`, protobuf) and
 * keeps their bodies, for a server started with `--DfbNet:Tracing:OtlpEndpoint=${endpoint}
 * --DfbNet:Tracing:OtlpProtocol=http`. It does not decode them: `waitFor(parts, timeoutMs)` resolves with the first
 * body that holds every part (a trace id's 16 bytes, a span id's 8, a string such as a tracestate), or rejects after
 * `timeoutMs`.
 */
export async function startOtlpReceiver() {
  const bodies = [];
  const server = createHttpServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      response.writeHead(200, { 'content-type': 'application/x-protobuf' });
      response.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${server.address().port}/v1/traces`;
  const waitFor = async (parts, timeoutMs = 20_000) => {
    const needles = parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part)));
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const body = bodies.find((b) => needles.every((needle) => b.includes(needle)));
      if (body) return body;
      if (Date.now() > deadline) throw new Error(`no OTLP export of the ${bodies.length} received holds all of ${needles.map((n) => n.toString('hex')).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return { endpoint, bodies, waitFor, close };
}

const cifar = readFileSync(join(repoRoot, 'tests', 'data', 'cifar10-test-200.bin'));

/** CIFAR-10 test image `index` as 32x32 HWC RGB bytes. */
export function cifarRgb(index) {
  const record = cifar.subarray(index * 3073 + 1, (index + 1) * 3073);
  const rgb = Buffer.alloc(3072);
  for (let i = 0; i < 1024; i++) {
    rgb[3 * i] = record[i];
    rgb[3 * i + 1] = record[1024 + i];
    rgb[3 * i + 2] = record[2048 + i];
  }
  return rgb;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG (8-bit RGB) of HWC pixels. */
export function encodePng(rgb, width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) rows.push(Buffer.from([0]), rgb.subarray(y * width * 3, (y + 1) * width * 3));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Writes CIFAR image `index` as a PNG file in `folder`; returns its path. */
export function writePng(folder, index) {
  const path = join(folder, `img${index}.png`);
  writeFileSync(path, encodePng(cifarRgb(index), 32, 32));
  return path;
}
