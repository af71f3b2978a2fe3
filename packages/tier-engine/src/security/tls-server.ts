// The HTTP(S) servers the links (and the coordinator's API) listen on. A
// TLS server answers a plain-HTTP client with a readable 400 instead of a
// TLS alert it cannot print: the first byte of a TLS connection is a
// handshake record (0x16), anything else is someone speaking cleartext.
import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Socket } from 'node:net';
import { serverTlsOptions, type ServerCredential } from './tls-config.js';

const TLS_HANDSHAKE = 0x16;

export const PLAIN_HTTP_REFUSAL =
  'This hsfl server speaks only TLS: connect with https:// (nodes: with their enrollment bundle; browsers: trust the project CA, ca.crt).\n';

/**
 * Makes a TLS server tell cleartext clients, in cleartext, to use TLS.
 * tls.Server wraps every accepted socket in its 'connection' listener; this
 * peeks at the first chunk before handing the socket on.
 */
export function refusePlainHttp(server: HttpsServer): void {
  const wrap = server.listeners('connection') as ((s: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (raw: Socket) => {
    raw.once('data', (chunk: Buffer) => {
      raw.pause();
      if (chunk[0] === TLS_HANDSHAKE) {
        raw.unshift(chunk);
        for (const l of wrap) l.call(server, raw);
        return;
      }
      const body = PLAIN_HTTP_REFUSAL;
      raw.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      raw.destroySoon();
    });
    raw.on('error', () => raw.destroy());
  });
}

/** An http server (credential undefined: --insecure) or an https server requesting client certificates. */
export function createLinkServer(credential: ServerCredential | undefined, listener?: RequestListener, extra: HttpsOptions = {}): HttpServer | HttpsServer {
  if (!credential) return listener ? createHttpServer(listener) : createHttpServer();
  const server = createHttpsServer({ ...serverTlsOptions(credential), ...extra }, listener);
  refusePlainHttp(server);
  return server;
}
