// Fixtures of the link tests: a ChildLinks server on a loopback port chosen
// at run time, an in-memory log, and polling helpers. Test use only.
import { strict as assert } from 'node:assert';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_MESSAGE_BYTES, Mailbox, Role, type LogLike } from '@hsfl/protocol';
import { ChildLinks, type ChildLink, type ChildLinksOptions } from '../child-link.js';

export const TOKEN = 'secret-token';

export type Line = { level: string; obj: object; msg?: string };
export function memLog(): LogLike & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond every 10 ms; fails after ms. */
export async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function listen(port = 0): Promise<HttpServer> {
  const http = createServer();
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve(http));
  });
}

export const portOf = (http: HttpServer) => (http.address() as AddressInfo).port;

/** One server tier: an http server with ChildLinks attached, recording joins and leaves. */
export class Server {
  readonly log = memLog();
  readonly mailbox = new Mailbox();
  readonly joins: ChildLink[] = [];
  readonly leaves: { link: ChildLink; reason: string }[] = [];
  readonly links: ChildLinks;
  private closed = false;

  private constructor(readonly http: HttpServer, over: Partial<ChildLinksOptions>) {
    this.links = new ChildLinks({
      childName: 'edge',
      role: Role.ROLE_EDGE,
      token: TOKEN,
      log: this.log,
      mailbox: this.mailbox,
      maxBytes: () => MAX_MESSAGE_BYTES,
      onJoin: (link) => void this.joins.push(link),
      onLeave: (link, reason) => void this.leaves.push({ link, reason }),
      helloTimeoutMs: 2000,
      aliveTimeoutMs: 300,
      ...over,
    });
    this.links.attach(http);
  }

  static async start(port = 0, over: Partial<ChildLinksOptions> = {}): Promise<Server> {
    return new Server(await listen(port), over);
  }

  get port(): number {
    return portOf(this.http);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  joinsOf(id: string): ChildLink[] {
    return this.joins.filter((l) => l.id === id);
  }

  async close(permanent = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.links.close('test over', permanent);
    if (this.http.listening) await new Promise((r) => this.http.close(r));
  }
}
