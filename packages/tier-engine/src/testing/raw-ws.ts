// A websocket + engine.io + socket.io client written on a bare TCP socket,
// for tests that must control every byte a hostile peer sends: messages
// streamed from one reused buffer (so the client holds none of what it
// sends), frames that never end, a peer that stops reading, a connection
// that never opens the socket.io namespace. Test use only (not exported from
// the package index).
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawOpenOptions {
  /** Source address to connect from (any 127.x.y.z on loopback). */
  localAddress?: string;
  /** engine.io transport asked for (default websocket). */
  path?: string;
}

/** What the server answered the HTTP upgrade with. */
export type UpgradeAnswer = { ok: true } | { ok: false; status: number; body: string };

/** Events: 'message' (string | Buffer). */
export class RawWebSocket extends EventEmitter {
  /** Text and binary messages received, in order. */
  readonly messages: (string | Buffer)[] = [];
  readonly closed: Promise<void>;
  private buf: Buffer = Buffer.alloc(0);
  private isClosed = false;
  /** Whether a close frame from the server ends the connection (false: a client that ignores it). */
  answersClose = true;

  private constructor(readonly socket: Socket) {
    super();
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      resolve();
    }));
    socket.on('error', () => {
      /* the server cutting us off is what several tests expect */
    });
  }

  /** Connects and upgrades; resolves with the socket, or with the server's refusal of the upgrade. */
  static async open(port: number, o: RawOpenOptions = {}): Promise<{ ws: RawWebSocket; answer: UpgradeAnswer }> {
    const socket = connect({ port, host: '127.0.0.1', localAddress: o.localAddress });
    const ws = new RawWebSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.write([
      `GET ${o.path ?? '/socket.io/?EIO=4&transport=websocket'} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', '', '',
    ].join('\r\n'));
    const answer = await new Promise<UpgradeAnswer>((resolve) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.off('close', onClose);
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head.toString('latin1'))?.[1] ?? 0);
        if (status === 101) {
          ws.feed(head.subarray(end + 4));
          socket.on('data', (c: Buffer) => ws.feed(c));
          resolve({ ok: true });
        } else {
          resolve({ ok: false, status, body: head.subarray(end + 4).toString('utf8') });
        }
      };
      const onClose = () => resolve({ ok: false, status: 0, body: '' });
      socket.on('data', onData);
      socket.once('close', onClose);
    });
    return { ws, answer };
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Server frames: unmasked, unfragmented (engine.io sends whole messages). Answers engine.io pings. */
  private feed(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (opcode === 0x1) {
        const text = payload.toString('utf8');
        if (text === '2') this.sendText('3');
        else this.push(text);
      } else if (opcode === 0x2) {
        this.push(Buffer.from(payload));
      } else if (opcode === 0x8 && this.answersClose) {
        // The server closes: go, as a well-behaved client does.
        this.socket.destroy();
        return;
      }
    }
  }

  private push(m: string | Buffer): void {
    this.messages.push(m);
    this.emit('message', m);
  }

  private static header(opcode: number, len: number): Buffer {
    // Client frames must be masked; an all-zero key leaves the payload as it is, so it can be streamed from any buffer.
    const mask = Buffer.alloc(4);
    if (len < 126) return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | len]), mask]);
    if (len < 65536) {
      const h = Buffer.from([0x80 | opcode, 0x80 | 126, 0, 0]);
      h.writeUInt16BE(len, 2);
      return Buffer.concat([h, mask]);
    }
    const h = Buffer.alloc(10);
    h[0] = 0x80 | opcode;
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(len), 2);
    return Buffer.concat([h, mask]);
  }

  sendText(s: string): void {
    const b = Buffer.from(s, 'utf8');
    if (this.isOpen) this.socket.write(Buffer.concat([RawWebSocket.header(0x1, b.length), b]));
  }

  sendBinary(b: Uint8Array): void {
    if (this.isOpen) this.socket.write(Buffer.concat([RawWebSocket.header(0x2, b.byteLength), b]));
  }

  /**
   * Sends the header of one binary message of `total` bytes, then zeros
   * from one reused `chunk`-sized buffer, waiting for the socket to drain,
   * until it is all sent or the server closes the connection. Returns the
   * payload bytes handed to the socket.
   */
  async streamBinary(total: number, chunk = 64 * 1024): Promise<number> {
    const zeros = Buffer.alloc(chunk);
    this.socket.write(RawWebSocket.header(0x2, total));
    let sent = 0;
    while (sent < total && this.isOpen) {
      const n = Math.min(chunk, total - sent);
      const more = this.socket.write(n === chunk ? zeros : zeros.subarray(0, n));
      sent += n;
      if (!more) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.once('drain', done);
          this.socket.once('close', done);
        });
      }
    }
    return sent;
  }

  /** Stops reading: what the server sends piles up in its buffers and the kernel's. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Resolves with the first message matching `pred` (seen before or after the call). */
  next(pred: (m: string | Buffer) => boolean, timeoutMs = 3000): Promise<string | Buffer> {
    const hit = this.messages.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('message', on);
        reject(new Error(`no matching message within ${timeoutMs} ms (got ${this.messages.length})`));
      }, timeoutMs);
      const on = (m: string | Buffer) => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.off('message', on);
        resolve(m);
      };
      this.on('message', on);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** socket.io on top of RawWebSocket: open the main namespace, emit events with one binary argument. */
export class RawSocketIo {
  constructor(readonly ws: RawWebSocket) {}

  /** Opens the namespace ("40") and waits for the server's CONNECT ("40{...}"). */
  async connect(timeoutMs = 3000): Promise<void> {
    await this.ws.next((m) => typeof m === 'string' && m.startsWith('0{'), timeoutMs);
    this.ws.sendText('40');
    await this.ws.next((m) => typeof m === 'string' && m.startsWith('40'), timeoutMs);
  }

  /** An event with one binary argument, as socket.io-client sends it. */
  emit(event: string, payload: Uint8Array): void {
    this.ws.sendText(`451-${JSON.stringify([event, { _placeholder: true, num: 0 }])}`);
    this.ws.sendBinary(payload);
  }

  /** An event with JSON arguments only (not what the protocol allows). */
  emitJson(event: string, ...args: unknown[]): void {
    this.ws.sendText(`42${JSON.stringify([event, ...args])}`);
  }

  /** Resolves with the next binary payload of `event` (one already received included). */
  async nextEvent(event: string, timeoutMs = 3000): Promise<Buffer> {
    const have = this.received(event);
    if (have.length) return have[0]!;
    let header = false;
    return (await this.ws.next((m) => {
      if (typeof m === 'string') header = m.startsWith('451-') && m.includes(JSON.stringify(event));
      else if (header) return true;
      return false;
    }, timeoutMs)) as Buffer;
  }

  /** The binary payloads received for `event` (placeholder text frame followed by its attachment). */
  received(event: string): Buffer[] {
    const out: Buffer[] = [];
    const ms = this.ws.messages;
    for (let i = 0; i + 1 < ms.length; i++) {
      const m = ms[i]!;
      if (typeof m === 'string' && m.startsWith('451-') && m.includes(JSON.stringify(event)) && Buffer.isBuffer(ms[i + 1])) out.push(ms[i + 1] as Buffer);
    }
    return out;
  }
}
