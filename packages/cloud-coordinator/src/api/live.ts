import type { Server as HttpServer, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Server, type Namespace } from 'socket.io';
import type { LogLike } from '@hsfl/protocol';
import type { Coordinator, Plan } from '../coordinator.js';
import { SESSION_COOKIE, type Auth, type Role } from './auth.js';
import { nodesView, overview, planView } from './views.js';
import type { LiveRound, LiveRoundMessage } from './view-types.js';

/** Where the dashboard's socket.io engine listens (a path of its own, apart from the edges'). */
export const LIVE_PATH = '/live/socket.io';
export const LIVE_NAMESPACE = '/dashboard';

export interface LiveOptions {
  http: HttpServer;
  coordinator: Coordinator;
  auth: Auth;
  backend: string;
  log: LogLike;
  removed: ReadonlySet<string>;
  parseCookie: (header: string) => Record<string, string>;
  /** Whether a request's Origin header (if any) is acceptable. */
  sameOrigin: (headers: IncomingHttpHeaders) => boolean;
  /** Refuses a handshake before its credentials are looked at (rate limits): the reason, or undefined to go on. */
  admit?: (req: IncomingMessage) => string | undefined;
  /** Told of each handshake refused for a wrong token (rate limits, audit trail). */
  wrongToken?: (req: IncomingMessage) => void;
}

/**
 * Live updates for dashboards: a socket.io namespace '/dashboard' that
 * sends JSON (browsers do not speak the edges' protobuf). It runs on its
 * own engine at LIVE_PATH so that its small message limit, its auth and its
 * traffic are independent of the edge protocol on '/socket.io'. Clients
 * only listen; every control goes through the REST API.
 *
 * Server -> client events: snapshot, overview, nodes, round, status, plan, event.
 */
export class LiveFeed {
  readonly io: Server;
  readonly nsp: Namespace;
  private readonly detach: () => void;
  private nodesTimer?: NodeJS.Timeout;
  private overviewTimer?: NodeJS.Timeout;

  constructor(private readonly o: LiveOptions) {
    this.io = new Server(o.http, {
      path: LIVE_PATH,
      serveClient: false,
      maxHttpBufferSize: 16 * 1024,
      // The edges' engine shares this HTTP server: leave upgrades for other paths alone.
      destroyUpgrade: false,
      pingInterval: 10000,
      pingTimeout: 10000,
    });
    // Nothing is served on the default namespace of this engine.
    this.io.of('/').use((_socket, next) => next(new Error('use the /dashboard namespace')));
    this.nsp = this.io.of(LIVE_NAMESPACE);
    this.nsp.use((socket, next) => {
      const stop = o.admit?.(socket.request);
      if (stop) {
        next(new Error(stop));
        return;
      }
      const h = socket.handshake;
      const token = typeof h.auth?.token === 'string' ? (h.auth.token as string) : undefined;
      let role: Role | undefined;
      let sid: string | undefined;
      if (token !== undefined) {
        role = o.auth.roleForToken(token);
      } else {
        sid = h.headers.cookie ? o.parseCookie(h.headers.cookie)[SESSION_COOKIE] : undefined;
        role = o.auth.roleForSession(sid);
        if (role && !o.sameOrigin(h.headers)) role = undefined;
      }
      if (!role) {
        if (token !== undefined) o.wrongToken?.(socket.request);
        next(new Error('unauthorized'));
        return;
      }
      socket.data.role = role;
      socket.data.sid = sid;
      next();
    });
    this.nsp.on('connection', (socket) => {
      try {
        socket.emit('snapshot', { role: socket.data.role, overview: overview(o.coordinator, o.backend), nodes: this.nodes() });
      } catch (err) {
        o.log.warn({ err: String(err) }, 'dashboard snapshot failed');
      }
    });

    const c = o.coordinator;
    const onRound = (m: LiveRound) => this.nsp.emit('round', { ...m, endedAt: Date.now() } satisfies LiveRoundMessage);
    const onTopology = () => this.scheduleNodes();
    const onStatus = (s: { runId: string; status: string }) => {
      this.nsp.emit('status', s);
      this.scheduleOverview();
    };
    const onPlan = (p: Plan) => {
      const run = c.store.getRun(p.runId);
      if (run) this.nsp.emit('plan', planView(c, run));
      this.scheduleOverview();
    };
    const onEvent = (e: { kind?: string }) => {
      this.nsp.emit('event', e);
      if (e.kind === 'node_removed' || e.kind === 'node_joined' || e.kind === 'node_left') this.scheduleNodes();
    };
    const onCapacity = () => this.scheduleNodes();
    c.on('round', onRound);
    c.on('topology', onTopology);
    c.on('status', onStatus);
    c.on('plan', onPlan);
    c.on('event', onEvent);
    c.on('capacity', onCapacity);
    this.detach = () => {
      c.off('round', onRound);
      c.off('topology', onTopology);
      c.off('status', onStatus);
      c.off('plan', onPlan);
      c.off('event', onEvent);
      c.off('capacity', onCapacity);
    };
  }

  private nodes() {
    return nodesView(this.o.coordinator, this.o.backend, this.o.removed);
  }

  /** Sends the topology soon (coalescing bursts of joins). */
  scheduleNodes(): void {
    if (this.nodesTimer) return;
    this.nodesTimer = setTimeout(() => {
      this.nodesTimer = undefined;
      this.safe(() => this.nsp.emit('nodes', this.nodes()));
    }, 100);
  }

  /** Sends the overview (run, status, counts) soon. */
  scheduleOverview(): void {
    if (this.overviewTimer) return;
    this.overviewTimer = setTimeout(() => {
      this.overviewTimer = undefined;
      this.safe(() => this.nsp.emit('overview', overview(this.o.coordinator, this.o.backend)));
    }, 50);
  }

  /** Ends the live connections of one browser session (logout). */
  dropSession(sid: string): void {
    for (const s of this.nsp.sockets.values()) if (s.data.sid === sid) s.disconnect(true);
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // The store may be closed while shutting down.
      this.o.log.debug({ err: String(err) }, 'dashboard update skipped');
    }
  }

  /** Disconnects dashboards and stops the engine; leaves the HTTP server to its owner. */
  close(): void {
    this.detach();
    clearTimeout(this.nodesTimer);
    clearTimeout(this.overviewTimer);
    this.nsp.disconnectSockets(true);
    this.io.engine.close();
  }
}
