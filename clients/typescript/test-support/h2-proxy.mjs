// An HTTP/2 (h2c) proxy in front of a test server that can break calls as a transport would, for the tests of what
// the client retries: it forwards each gRPC call to the server, or, as `plan` says, resets its HTTP/2 stream (RST_STREAM
// with an error code, no gRPC status: what grpc-js reports as INTERNAL "Received RST_STREAM with code 2 ...") or
// answers with a gRPC status of its own (a server's INTERNAL, say).
import http2 from 'node:http2';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = http2.constants;

/**
 * Starts a proxy on a free loopback port in front of `upstream` (`host:port` of an h2c server). `plan({ index, path })`
 * is asked for each call (`index` counts the calls from 0; `path` is `/dfbnet.v1.DfbNet/Classify`...) and returns:
 * - `undefined` or `'forward'`: the call goes to the server as it is;
 * - `{ reset: code }`: the proxy reads the call's request to its end (a stream's: its first message) and resets the
 *   HTTP/2 stream with `code` (default NGHTTP2_INTERNAL_ERROR), without response headers or a status;
 * - `{ resetAfterMessages: n, reset: code }`: forwarded, then reset after the server's first `n` response DATA chunks
 *   have been passed on (mid-stream);
 * - `{ status, message }`: answered at once with that gRPC status (trailers-only), as a server would.
 * Resolves to `{ address, calls, close }`: `calls` lists `{ index, path, action }` of every call so far.
 */
export async function startProxy(upstream, plan = () => undefined) {
  const client = http2.connect(`http://${upstream}`);
  client.on('error', () => {});
  const sessions = new Set();
  const calls = [];
  const server = http2.createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const index = calls.length;
    const path = headers[':path'];
    const action = plan({ index, path }) ?? 'forward';
    calls.push({ index, path, action });
    if (action !== 'forward' && action.status !== undefined) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(action.status), 'grpc-message': encodeURIComponent(action.message ?? '') }, { endStream: true });
      stream.resume();
      return;
    }
    const code = action !== 'forward' && action.reset !== undefined ? action.reset : NGHTTP2_INTERNAL_ERROR;
    if (action !== 'forward' && action.resetAfterMessages === undefined) {
      stream.resume();
      const reset = () => {
        if (!stream.destroyed) stream.close(code);
      };
      stream.once('end', reset);
      // A stream's request has no end while the client waits for answers: reset it once its first message is in.
      if (path.endsWith('Stream')) stream.once('data', reset);
      return;
    }

    const forwarded = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name === ':method' || name === ':path' || !name.startsWith(':')) forwarded[name] = value;
    }
    const request = client.request(forwarded);
    request.on('error', () => {});
    stream.pipe(request);
    let trailers;
    let chunks = 0;
    request.on('response', (responseHeaders) => {
      const own = { ...responseHeaders };
      delete own[':status'];
      if (own['grpc-status'] !== undefined) {
        stream.respond({ ':status': 200, ...own }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, ...own }, { waitForTrailers: true });
    });
    request.on('trailers', (t) => (trailers = t));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? { 'grpc-status': '14', 'grpc-message': 'proxy: no trailers from the server' }));
    request.on('data', (chunk) => {
      if (stream.destroyed) return;
      stream.write(chunk);
      chunks++;
      if (action !== 'forward' && chunks === action.resetAfterMessages) {
        setImmediate(() => {
          stream.close(code);
          request.close(NGHTTP2_CANCEL);
        });
      }
    });
    request.on('end', () => {
      if (!stream.destroyed) stream.end();
    });
    request.on('close', () => {
      if (!stream.destroyed && !stream.headersSent) stream.close(NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('close', () => {
      if (!request.destroyed) request.close(NGHTTP2_CANCEL);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${server.address().port}`;
  const close = async () => {
    for (const session of sessions) session.destroy();
    client.close();
    await new Promise((resolve) => server.close(resolve));
  };
  return { address, calls, close };
}
