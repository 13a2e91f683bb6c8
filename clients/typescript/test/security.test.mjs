// The SDK against servers that need credentials: API keys, TLS and mutual TLS. The certificates come from
// scripts/make-test-certs.sh (openssl), made once into a temporary folder; one server per kind, shared by its tests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { DfbNetClient, ImageInput, status } from '@dfbnet/client';
import { cifarRgb, repoRoot, startServer } from '../test-support/server.mjs';

// A DFBNET_API_KEY of the developer's shell must not make the "no key" cases send one.
delete process.env.DFBNET_API_KEY;

const certs = mkdtempSync(join(tmpdir(), 'dfbnet-ts-certs-'));
execFileSync('bash', [join(repoRoot, 'scripts', 'make-test-certs.sh'), certs], { stdio: 'pipe' });
const cert = (name) => join(certs, name);
after(() => rmSync(certs, { recursive: true, force: true }));

const image = ImageInput.fromRgb(cifarRgb(3), 32, 32);

/** Runs `body` with DFBNET_API_KEY set to `value` (undefined: unset), restoring it after. */
async function withApiKeyVariable(value, body) {
  const saved = process.env.DFBNET_API_KEY;
  if (value === undefined) delete process.env.DFBNET_API_KEY;
  else process.env.DFBNET_API_KEY = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.DFBNET_API_KEY;
    else process.env.DFBNET_API_KEY = saved;
  }
}

/** Calls `body(client)` with a client of `options` (no retries: a refused call fails at once), closing it after. */
async function withClient(options, body) {
  const client = new DfbNetClient({ maxRetries: 0, maxStreamReconnects: 0, timeoutMs: 20_000, ...options });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

async function streamFinals(client, count, options) {
  const frames = Array.from({ length: count }, (_, i) => ({ id: `f${i}`, image }));
  const finals = [];
  for await (const e of client.stream(frames, options)) {
    assert.equal(e.frame.id, e.event.frameId);
    if (e.event.final) finals.push(e.event);
  }
  return finals;
}

describe('TLS and API key options (no server)', () => {
  test('caCertificate, clientCertificate and clientKey need an https:// address', () => {
    assert.throws(() => new DfbNetClient({ address: 'http://127.0.0.1:1', caCertificate: cert('ca.pem') }), (e) => e instanceof TypeError && /options\.caCertificate needs an https:\/\/ address/.test(e.message));
    assert.throws(() => new DfbNetClient({ address: '127.0.0.1:1', clientCertificate: cert('client.pem'), clientKey: cert('client.key') }), (e) => e instanceof TypeError && /options\.clientCertificate, options\.clientKey need an https:\/\//.test(e.message));
  });

  test('clientCertificate and clientKey go together', () => {
    for (const options of [{ clientCertificate: cert('client.pem') }, { clientKey: cert('client.key') }, { caCertificate: cert('ca.pem'), clientKey: cert('client.key') }]) {
      assert.throws(() => new DfbNetClient({ address: 'https://127.0.0.1:1', ...options }), (e) => e instanceof TypeError && /options\.clientCertificate and options\.clientKey go together/.test(e.message));
    }
  });

  test('credentials cannot be combined with the TLS options', () => {
    assert.throws(
      () => new DfbNetClient({ address: 'https://127.0.0.1:1', credentials: grpc.credentials.createSsl(), caCertificate: cert('ca.pem') }),
      (e) => e instanceof TypeError && /options\.credentials cannot be combined with options\.caCertificate/.test(e.message),
    );
  });

  test('a string is a file path, a Buffer PEM contents; PEM text in a string, a missing file or bad PEM are named', () => {
    const pem = readFileSync(cert('ca.pem'), 'utf8');
    assert.throws(() => new DfbNetClient({ address: 'https://127.0.0.1:1', caCertificate: pem }), (e) => e instanceof TypeError && /options\.caCertificate looks like PEM text.*Buffer/.test(e.message));
    assert.throws(() => new DfbNetClient({ address: 'https://127.0.0.1:1', caCertificate: cert('missing.pem') }), (e) => /options\.caCertificate: cannot read '.*missing\.pem'/.test(e.message));
    assert.throws(
      () => new DfbNetClient({ address: 'https://127.0.0.1:1', clientCertificate: Buffer.from('not a certificate'), clientKey: Buffer.from('not a key') }),
      (e) => /TLS settings \(options\.clientCertificate, options\.clientKey\) are not usable/.test(e.message),
    );
    // Paths and Buffers both make a client (nothing connects until a call).
    new DfbNetClient({ address: 'https://127.0.0.1:1', caCertificate: cert('ca.pem'), clientCertificate: cert('client.pem'), clientKey: cert('client.key') }).close();
    new DfbNetClient({ address: 'https://127.0.0.1:1', caCertificate: Buffer.from(pem), clientCertificate: readFileSync(cert('client.pem')), clientKey: readFileSync(cert('client.key')) }).close();
  });

  test('an API key a header cannot carry is refused when the client is made, without echoing it', async () => {
    assert.throws(() => new DfbNetClient({ address: '127.0.0.1:1', apiKey: 'secret-key\n' }), (e) => e instanceof TypeError && /options\.apiKey holds a character/.test(e.message) && !e.message.includes('secret-key'));
    await withApiKeyVariable('secret-key\n', () => {
      assert.throws(() => new DfbNetClient({ address: '127.0.0.1:1' }), (e) => e instanceof TypeError && /DFBNET_API_KEY holds a character/.test(e.message) && !e.message.includes('secret-key'));
      // An apiKey given wins over the variable, so the variable is not looked at.
      new DfbNetClient({ address: '127.0.0.1:1', apiKey: 'fine' }).close();
    });
  });
});

describe('API keys: a server with DfbNet:Auth:ApiKeys', () => {
  const key = 'ts-sdk-test-key-0123456789';
  let server;

  before(async () => {
    server = await startServer({ args: [`--DfbNet:Auth:ApiKeys:ts-tests=${key}`], client: { apiKey: key } });
  });

  after(async () => {
    await server?.stop();
  });

  test('no key: UNAUTHENTICATED, "no credentials"', async () => {
    await withClient({ address: server.address }, async (client) => {
      await assert.rejects(client.classify(image), (e) => e.code === status.UNAUTHENTICATED && /no credentials/.test(e.details));
      await assert.rejects(client.getModelInfo(), (e) => e.code === status.UNAUTHENTICATED && /no credentials/.test(e.details));
    });
  });

  test('a wrong key: UNAUTHENTICATED, in either header', async () => {
    for (const apiKeyHeader of ['authorization', 'x-api-key']) {
      await withClient({ address: server.address, apiKey: 'not-the-key', apiKeyHeader }, async (client) => {
        await assert.rejects(client.classify(image), (e) => e.code === status.UNAUTHENTICATED && /not one the server knows/.test(e.details), apiKeyHeader);
      });
    }
  });

  test('the key in apiKey: classify and getModelInfo work, in either header', async () => {
    for (const apiKeyHeader of ['authorization', 'x-api-key']) {
      await withClient({ address: server.address, apiKey: key, apiKeyHeader }, async (client) => {
        const result = await client.classify(image);
        assert.equal(result.answer.final, true);
        assert.equal(result.model, 'default');
        assert.equal((await client.getModelInfo()).name, 'default');
      });
    }
  });

  test('the key in DFBNET_API_KEY: used when apiKey is not given; apiKey "" sends none; an empty variable is none', async () => {
    await withApiKeyVariable(key, async () => {
      await withClient({ address: server.address }, async (client) => {
        assert.equal((await client.classify(image)).answer.final, true);
        assert.equal((await streamFinals(client, 3)).length, 3);
      });
      await withClient({ address: server.address, apiKey: 'not-the-key' }, async (client) => {
        await assert.rejects(client.classify(image), (e) => e.code === status.UNAUTHENTICATED && /not one the server knows/.test(e.details));
      });
      await withClient({ address: server.address, apiKey: '' }, async (client) => {
        await assert.rejects(client.classify(image), (e) => e.code === status.UNAUTHENTICATED && /no credentials/.test(e.details));
      });
    });
    await withApiKeyVariable('', () =>
      withClient({ address: server.address }, async (client) => {
        await assert.rejects(client.classify(image), (e) => e.code === status.UNAUTHENTICATED && /no credentials/.test(e.details));
      }),
    );
  });

  test('stream: with the key every frame ends with its final event; without one it fails UNAUTHENTICATED, not reconnected', async () => {
    await withClient({ address: server.address, apiKey: key }, async (client) => {
      const finals = await streamFinals(client, 10, { mode: 'full' });
      assert.deepEqual(finals.map((e) => e.frameId), Array.from({ length: 10 }, (_, i) => `f${i}`));
      assert.ok(finals.every((e) => e.kind === 'FUSED'));
    });
    // Reconnections allowed: UNAUTHENTICATED is final, so the stream fails at once.
    await withClient({ address: server.address, maxStreamReconnects: 5 }, async (client) => {
      await assert.rejects(streamFinals(client, 2), (e) => e.code === status.UNAUTHENTICATED && /no credentials/.test(e.details));
    });
  });

  // Last of this server's tests: it restarts the server.
  test('stream: the reconnection after a server restart sends the key too', async () => {
    const client = new DfbNetClient({ address: server.address, apiKey: key, maxStreamReconnects: 60, retryDelayMs: 100, maxRetryDelayMs: 300, maxFramesInFlight: 4 });
    const large = Buffer.alloc(512 * 512 * 3);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) % 251;
    const count = 20;
    function* frames() {
      for (let i = 0; i < count; i++) yield { id: `r${i}`, image: ImageInput.fromRgb(large, 512, 512) };
    }
    const finals = [];
    let restart;
    try {
      for await (const e of client.stream(frames(), { mode: 'full' })) {
        if (e.event.final) finals.push(e);
        if (!restart && finals.length === 5) restart = server.restart();
      }
    } finally {
      client.close();
      // Even when the stream failed: the restart settles before the suite's after() stops the server.
      await restart?.catch(() => {});
    }
    assert.ok(restart, 'the server was restarted');
    await restart;
    assert.deepEqual(finals.map((e) => e.frame.id).sort(), Array.from({ length: count }, (_, i) => `r${i}`).sort());
    assert.ok(finals.every((e) => e.event.kind === 'FUSED'));
    assert.ok(finals.some((e) => e.resent), 'frames in flight at the break were resent on a new call');
    // Frames answered after the restart came over a reconnected call, which the server would have refused without the key.
    assert.ok(finals.length > 5);
  });
});

describe('TLS: a server with DfbNet:Tls:CertificateFile', () => {
  let server;

  before(async () => {
    server = await startServer({
      scheme: 'https',
      args: [`--DfbNet:Tls:CertificateFile=${cert('server.pem')}`, `--DfbNet:Tls:KeyFile=${cert('server.key')}`],
      client: { caCertificate: cert('ca.pem') },
    });
  });

  after(async () => {
    await server?.stop();
  });

  test('caCertificate (a path or PEM bytes): classify, getModelInfo and a stream work', async () => {
    assert.match(server.address, /^https:\/\/127\.0\.0\.1:\d+$/);
    for (const caCertificate of [cert('ca.pem'), readFileSync(cert('ca.pem'))]) {
      await withClient({ address: server.address, caCertificate }, async (client) => {
        assert.equal((await client.classify(image)).answer.final, true);
        assert.equal((await client.getModelInfo()).name, 'default');
        assert.equal((await streamFinals(client, 3)).length, 3);
      });
    }
  });

  test('without caCertificate (the system roots) or with another CA, the server is not trusted: UNAVAILABLE', async () => {
    for (const options of [{}, { caCertificate: cert('rogue-ca.pem') }]) {
      await withClient({ address: server.address, ...options }, async (client) => {
        await assert.rejects(client.classify(image), (e) => e.code === status.UNAVAILABLE && /unable to verify|certificate/i.test(e.details), JSON.stringify(options));
      });
    }
  });

  test('an h2c client of the TLS port fails', async () => {
    await withClient({ address: server.address.replace('https://', 'http://') }, async (client) => {
      await assert.rejects(client.classify(image), (e) => e.code === status.UNAVAILABLE);
    });
  });
});

describe('mutual TLS: a server with DfbNet:Tls:ClientCaFile', () => {
  let server;
  const trusted = { caCertificate: cert('ca.pem'), clientCertificate: cert('client.pem'), clientKey: cert('client.key') };

  before(async () => {
    server = await startServer({
      scheme: 'https',
      args: [`--DfbNet:Tls:CertificateFile=${cert('server.pem')}`, `--DfbNet:Tls:KeyFile=${cert('server.key')}`, `--DfbNet:Tls:ClientCaFile=${cert('ca.pem')}`],
      client: trusted,
    });
  });

  after(async () => {
    await server?.stop();
  });

  test('the CA and a client certificate issued by the server\'s client CA (paths or PEM bytes): classify and a stream work', async () => {
    const bytes = { caCertificate: readFileSync(cert('ca.pem')), clientCertificate: readFileSync(cert('client.pem')), clientKey: readFileSync(cert('client.key')) };
    for (const options of [trusted, bytes]) {
      await withClient({ address: server.address, ...options }, async (client) => {
        assert.equal((await client.classify(image)).answer.final, true);
        assert.equal((await streamFinals(client, 3)).length, 3);
      });
    }
  });

  test('without a client certificate the call fails', async () => {
    await withClient({ address: server.address, caCertificate: cert('ca.pem') }, async (client) => {
      await assert.rejects(client.classify(image), (e) => e.code === status.UNAVAILABLE);
      await assert.rejects(streamFinals(client, 1), (e) => e.code === status.UNAVAILABLE);
    });
  });

  test('a client certificate of another CA (rogue-client) fails', async () => {
    await withClient({ address: server.address, caCertificate: cert('ca.pem'), clientCertificate: cert('rogue-client.pem'), clientKey: cert('rogue-client.key') }, async (client) => {
      await assert.rejects(client.classify(image), (e) => e.code === status.UNAVAILABLE);
    });
  });
});
