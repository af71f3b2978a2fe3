import { useCallback, useEffect, useRef, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import { api, ApiError } from './api';
import type { EventRow, LiveRound, NodesView, Overview, PlanView, RoundMetrics, RunRow, RunView } from './types';

/** Where the coordinator's live feed is (a socket.io engine of its own; see docs/dashboard.md). */
export const LIVE_PATH = '/live/socket.io';
const MAX_EVENTS = 500;

export interface DashboardState {
  connected: boolean;
  overview: Overview | null;
  nodes: NodesView | null;
  runs: RunRow[];
  /** Follow the active run (switch to each new one) or stay on the chosen run. */
  follow: boolean;
  runId: string | null;
  runView: RunView | null;
  plan: PlanView | null;
  metrics: RoundMetrics[];
  events: EventRow[];
  error: string | null;
}

const initial: DashboardState = {
  connected: false, overview: null, nodes: null, runs: [], follow: true, runId: null, runView: null, plan: null, metrics: [], events: [], error: null,
};

function fromLive(r: LiveRound): RoundMetrics {
  return {
    round: r.round, planVersion: r.planVersion, samples: r.samples, loss: r.loss, trainAccuracy: r.trainAccuracy,
    testAccuracy: r.testAccuracy ?? null, testLoss: r.testLoss ?? null, roundMs: r.roundMs, deviceComputeMs: r.deviceComputeMs,
    edgeComputeMs: r.edgeComputeMs, cloudComputeMs: r.cloudComputeMs, edgeWaitMs: r.edgeWaitMs, cloudWaitMs: r.cloudWaitMs,
    bytesDeviceEdgeUp: r.bytesDeviceEdgeUp, bytesEdgeDeviceDown: r.bytesEdgeDeviceDown, bytesEdgeCloudUp: r.bytesEdgeCloudUp,
    bytesCloudEdgeDown: r.bytesCloudEdgeDown, devices: r.devices, lateDevices: r.lateDevices, syncedDevices: r.syncedDevices,
    syncedEdges: r.syncedEdges, endedAt: r.endedAt,
  };
}

/**
 * The dashboard's data: history over REST when a run is chosen (and after
 * every reconnect), then live JSON updates over socket.io. Round updates are
 * buffered and committed to React state at most four times a second.
 */
export function useDashboard(onUnauthorized: () => void) {
  const [state, setState] = useState<DashboardState>(initial);
  const selected = useRef<string | null>(null);
  const follow = useRef(true);
  const rounds = useRef(new Map<number, RoundMetrics>());
  const dirty = useRef(false);
  const unauthorized = useRef(onUnauthorized);
  unauthorized.current = onUnauthorized;

  const fail = useCallback((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) {
      unauthorized.current();
      return;
    }
    setState((s) => ({ ...s, error: err instanceof Error ? err.message : String(err) }));
  }, []);

  const refreshRuns = useCallback(async () => {
    try {
      const r = await api.get<{ runs: RunRow[] }>('/api/runs?limit=50');
      setState((s) => ({ ...s, runs: r.runs }));
    } catch (err) {
      fail(err);
    }
  }, [fail]);

  const refreshRun = useCallback(async (id: string) => {
    try {
      const enc = encodeURIComponent(id);
      const [rv, plan] = await Promise.all([api.get<RunView>(`/api/runs/${enc}`), api.get<PlanView>(`/api/runs/${enc}/plan`)]);
      if (selected.current === id) setState((s) => ({ ...s, runView: rv, plan }));
    } catch (err) {
      fail(err);
    }
  }, [fail]);

  const loadRun = useCallback(async (id: string | null) => {
    const previous = selected.current;
    selected.current = id;
    if (previous !== id) rounds.current = new Map();
    if (!id) {
      rounds.current = new Map();
      setState((s) => ({ ...s, runId: null, runView: null, plan: null, metrics: [] }));
      return;
    }
    try {
      const enc = encodeURIComponent(id);
      const [rv, plan, m] = await Promise.all([
        api.get<RunView>(`/api/runs/${enc}`),
        api.get<PlanView>(`/api/runs/${enc}/plan`),
        api.get<{ metrics: RoundMetrics[] }>(`/api/runs/${enc}/metrics`),
      ]);
      if (selected.current !== id) return;
      const map = new Map<number, RoundMetrics>();
      for (const r of m.metrics) map.set(r.round, r);
      // Keep live rounds that arrived while the history was loading.
      for (const [k, v] of rounds.current) if (!map.has(k)) map.set(k, v);
      rounds.current = map;
      dirty.current = false;
      const metrics = [...map.values()].sort((a, b) => a.round - b.round);
      setState((s) => ({ ...s, runId: id, runView: rv, plan, metrics, error: null }));
    } catch (err) {
      fail(err);
    }
  }, [fail]);

  const loadEvents = useCallback(async () => {
    try {
      const r = await api.get<{ events: EventRow[] }>('/api/events?limit=200');
      setState((s) => ({ ...s, events: r.events.slice().reverse() }));
    } catch (err) {
      fail(err);
    }
  }, [fail]);

  const choose = useCallback((id: string | null, followActive: boolean) => {
    follow.current = followActive;
    setState((s) => ({ ...s, follow: followActive }));
    void loadRun(id);
  }, [loadRun]);

  useEffect(() => {
    const socket: Socket = io('/dashboard', { path: LIVE_PATH, reconnectionDelayMax: 5000 });
    const pick = (ov: Overview) => {
      const want = ov.activeRunId ?? ov.run?.run.id ?? null;
      if ((follow.current || selected.current === null) && want && want !== selected.current) void loadRun(want);
    };
    socket.on('connect', () => setState((s) => ({ ...s, connected: true })));
    socket.on('disconnect', () => setState((s) => ({ ...s, connected: false })));
    socket.on('connect_error', (err: Error) => {
      setState((s) => ({ ...s, connected: false }));
      if (err.message === 'unauthorized') unauthorized.current();
    });
    socket.on('snapshot', (m: { overview: Overview; nodes: NodesView }) => {
      setState((s) => ({ ...s, overview: m.overview, nodes: m.nodes }));
      const want = m.overview.activeRunId ?? m.overview.run?.run.id ?? null;
      const id = follow.current || !selected.current ? want : selected.current;
      void loadRun(id);
      void loadEvents();
      void refreshRuns();
    });
    socket.on('overview', (ov: Overview) => {
      setState((s) => ({ ...s, overview: ov, runView: ov.run && ov.run.run.id === selected.current ? ov.run : s.runView }));
      pick(ov);
      void refreshRuns();
    });
    socket.on('nodes', (n: NodesView) => setState((s) => ({ ...s, nodes: n })));
    socket.on('round', (r: LiveRound) => {
      if (r.runId !== selected.current) return;
      rounds.current.set(r.round, fromLive(r));
      dirty.current = true;
    });
    socket.on('plan', (p: PlanView) => {
      if (p.runId === selected.current) setState((s) => ({ ...s, plan: p }));
    });
    socket.on('status', (st: { runId: string }) => {
      if (st.runId === selected.current) void refreshRun(st.runId);
      void refreshRuns();
    });
    socket.on('event', (e: EventRow) => {
      setState((s) => ({ ...s, events: [e, ...s.events].slice(0, MAX_EVENTS) }));
    });
    const timer = setInterval(() => {
      if (!dirty.current) return;
      dirty.current = false;
      const metrics = [...rounds.current.values()].sort((a, b) => a.round - b.round);
      setState((s) => {
        const last = metrics[metrics.length - 1];
        const rv = s.runView && last && s.runView.active ? { ...s.runView, round: Math.max(s.runView.round, last.round + 1), last } : s.runView;
        return { ...s, metrics, runView: rv };
      });
    }, 250);
    return () => {
      clearInterval(timer);
      socket.close();
    };
  }, [loadRun, loadEvents, refreshRuns, refreshRun]);

  return { state, choose, refreshRun, refreshRuns, reload: () => selected.current && loadRun(selected.current), setError: (e: string | null) => setState((s) => ({ ...s, error: e })) };
}
