import { useMemo, useState, type ReactNode } from 'react';
import { useDashboard } from '../useDashboard';
import { pct, fixed, ms, duration } from '../format';
import type { Role } from '../types';
import { Controls } from './Controls';
import { Topology } from './Topology';
import { ModelPlan } from './ModelPlan';
import { TrainingCharts, TierTimeChart, LinkBytesChart, type XAxis } from './Charts';
import { EventLog } from './EventLog';
import { Enrollment } from './Enrollment';

export function Dashboard({ role, onLogout, onUnauthorized }: { role: Role; onLogout: () => void; onUnauthorized: () => void }) {
  const { state, choose, refreshRun, refreshRuns, setError } = useDashboard(onUnauthorized);
  const [xAxis, setXAxis] = useState<XAxis>('round');
  const rv = state.runView;
  const run = rv?.run;
  const metrics = state.metrics;
  const last = metrics[metrics.length - 1];
  const lastTest = useMemo(() => {
    for (let i = metrics.length - 1; i >= 0; i--) if (metrics[i]!.testAccuracy !== null) return metrics[i]!;
    return undefined;
  }, [metrics]);
  const done = Math.max(rv?.round ?? 0, last ? last.round + 1 : 0);
  const total = rv?.rounds ?? null;
  const status = rv ? (rv.active && rv.paused ? 'paused' : run!.status) : 'no run';
  const wall = run?.startedAt && last ? (last.endedAt - run.startedAt) / 1000 : null;
  const admin = role === 'admin';

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo">◆</span> hsfl <span className="muted small">coordinator {state.overview?.host ?? ''}</span>
        </div>
        <div className="run-picker">
          <select
            data-testid="run-select"
            value={state.follow ? '__follow' : (state.runId ?? '')}
            onChange={(e) => {
              const v = e.target.value;
              if (v === '__follow') choose(state.overview?.activeRunId ?? state.runs[0]?.id ?? null, true);
              else choose(v, false);
            }}
          >
            <option value="__follow">Follow the live run</option>
            {state.runs.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} · {r.id.slice(0, 15)} · {r.status}
              </option>
            ))}
          </select>
        </div>
        <div className="stats">
          <Stat label="status"><span className={`badge status-${status.replace(' ', '-')}`} data-testid="run-status">{status}</span></Stat>
          <Stat label="round"><span data-testid="round-counter" data-round={done}>{done}{total ? ` / ${total}` : ''}</span></Stat>
          <Stat label="test acc"><span data-testid="test-accuracy" data-value={lastTest?.testAccuracy ?? ''}>{pct(lastTest?.testAccuracy)}</span></Stat>
          <Stat label="train loss"><span data-testid="train-loss">{fixed(last?.loss)}</span></Stat>
          <Stat label="round time"><span data-testid="round-ms">{ms(last?.roundMs)}</span></Stat>
          <Stat label="wall"><span>{wall === null ? '–' : duration(wall)}</span></Stat>
          <Stat label="fleet"><span data-testid="fleet-count">{state.nodes ? `${state.nodes.counts.edges} edges · ${state.nodes.counts.devices} devices` : '–'}</span></Stat>
        </div>
        <div className="session">
          <span className={`dot ${state.connected ? 'ok' : 'bad'}`} title={state.connected ? 'live' : 'reconnecting'} data-testid="live-status" data-connected={state.connected} />
          <span className={`badge role-${role}`} data-testid="role">{role}</span>
          <button className="link" onClick={onLogout} data-testid="logout">log out</button>
        </div>
      </header>

      {state.error && (
        <div className="banner error" data-testid="error-banner">
          {state.error} <button className="link" onClick={() => setError(null)}>dismiss</button>
        </div>
      )}

      <main>
        <Controls
          admin={admin} overview={state.overview} runView={rv} plan={state.plan}
          onChanged={() => {
            if (state.runId) void refreshRun(state.runId);
            void refreshRuns();
          }}
          onCreated={(id) => choose(id, true)}
        />
        <div className="grid two">
          <Topology nodes={state.nodes} plan={state.plan?.current ?? rv?.plan ?? null} admin={admin} />
          <ModelPlan plan={state.plan} />
        </div>
        <section className="panel">
          <div className="panel-head">
            <h2>Training</h2>
            <div className="toggle" role="group" aria-label="x axis">
              <button className={xAxis === 'round' ? 'on' : ''} onClick={() => setXAxis('round')} data-testid="x-round">by round</button>
              <button className={xAxis === 'wall' ? 'on' : ''} onClick={() => setXAxis('wall')} data-testid="x-wall">by wall time</button>
            </div>
          </div>
          <TrainingCharts metrics={metrics} startedAt={run?.startedAt ?? null} xAxis={xAxis} />
        </section>
        <div className="grid two">
          <section className="panel">
            <h2>Time per round by tier</h2>
            <TierTimeChart metrics={metrics} />
          </section>
          <section className="panel">
            <h2>Bytes per link per round</h2>
            <LinkBytesChart metrics={metrics} />
          </section>
        </div>
        <Enrollment admin={admin} refreshKey={state.nodes} />
        <EventLog events={state.events} />
      </main>
    </div>
  );
}

function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{children}</div>
    </div>
  );
}
