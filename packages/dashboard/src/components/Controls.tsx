import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import type { ModelView, Overview, PlanView, RunRow, RunView } from '../types';

interface Props {
  admin: boolean;
  overview: Overview | null;
  runView: RunView | null;
  plan: PlanView | null;
  onChanged: () => void;
  onCreated: (runId: string) => void;
}

type Msg = { kind: 'ok' | 'error'; text: string } | null;

/** Start, pause, resume, stop, re-plan, a manual plan and a new run. Admins only; viewers see why not. */
export function Controls({ admin, overview, runView, plan, onChanged, onCreated }: Props) {
  const [msg, setMsg] = useState<Msg>(null);
  const [busy, setBusy] = useState(false);
  const [confirmStop, setConfirmStop] = useState(false);
  const [showNew, setShowNew] = useState(false);
  const run = runView?.run;
  const id = run ? encodeURIComponent(run.id) : '';
  const active = !!runView?.active;
  const paused = active && !!runView?.paused;
  const anotherActive = !!overview?.activeRunId && overview.activeRunId !== run?.id;

  async function act(label: string, fn: () => Promise<unknown>, ok: string | ((result: unknown) => string)) {
    setBusy(true);
    setMsg(null);
    try {
      const result = await fn();
      setMsg({ kind: 'ok', text: typeof ok === 'string' ? ok : ok(result) });
      onChanged();
    } catch (err) {
      setMsg({ kind: 'error', text: `${label}: ${err instanceof Error ? err.message : String(err)}` });
    } finally {
      setBusy(false);
    }
  }

  if (!admin) {
    return (
      <section className="panel controls">
        <h2>Controls</h2>
        <p className="muted" data-testid="viewer-note">You are logged in with the viewer token: read-only. Log in with the admin token to steer runs.</p>
      </section>
    );
  }

  return (
    <section className="panel controls" data-testid="controls">
      <div className="panel-head">
        <h2>Controls</h2>
        <span className="muted small">{run ? `run ${run.name} · ${run.id}` : 'no run yet'}</span>
      </div>
      <div className="buttons">
        <button data-testid="btn-start" disabled={busy || !run || run.status !== 'created' || anotherActive || active}
          onClick={() => act('start', () => api.post(`/api/runs/${id}/start`), 'run started: waiting for the fleet')}>Start</button>
        <button data-testid="btn-pause" disabled={busy || !active || paused}
          onClick={() => act('pause', () => api.post(`/api/runs/${id}/pause`), 'paused after the current round')}>Pause</button>
        <button data-testid="btn-resume" disabled={busy || !active || !paused}
          onClick={() => act('resume', () => api.post(`/api/runs/${id}/resume`), 'resumed')}>Resume</button>
        {confirmStop ? (
          <span className="confirm">
            Stop the run after this round?
            <button className="danger" data-testid="btn-stop-confirm" disabled={busy}
              onClick={() => { setConfirmStop(false); void act('stop', () => api.post(`/api/runs/${id}/stop`), 'stopping after the current round'); }}>Stop</button>
            <button className="link" onClick={() => setConfirmStop(false)}>cancel</button>
          </span>
        ) : (
          <button data-testid="btn-stop" className="danger-outline" disabled={busy || !active} onClick={() => setConfirmStop(true)}>Stop</button>
        )}
        <button data-testid="btn-replan" disabled={busy || !active}
          title={plan?.replanAvailable ? 'ask the planner for the best plan now' : 'the planner is not available on this coordinator'}
          onClick={() => act('re-plan', () => api.post(`/api/runs/${id}/replan`), replanMessage)}>Re-plan</button>
        <button className="link" data-testid="btn-new-run" onClick={() => setShowNew((v) => !v)}>{showNew ? 'close new run' : '+ new run'}</button>
      </div>
      <ManualPlan disabled={busy || !active} plan={plan} onSubmit={(body) => act('manual plan', () => api.post(`/api/runs/${id}/plan`, body), `plan (${body.c1}, ${body.c2}), intervals (${body.i1}, ${body.i2}) requested: applies after the next round`)} />
      {showNew && <NewRun disabled={busy} onCreate={async (body, start) => {
        await act('new run', async () => {
          const r = await api.post<RunRow>('/api/runs', body);
          if (start) await api.post(`/api/runs/${encodeURIComponent(r.id)}/start`);
          onCreated(r.id);
        }, start ? 'run created and started' : 'run created');
        setShowNew(false);
      }} />}
      {msg && <div className={`message ${msg.kind}`} data-testid="control-message">{msg.text}</div>}
    </section>
  );
}

function replanMessage(r: unknown): string {
  const res = (r as { result?: { plan?: { c1: number; c2: number; i1: number; i2: number }; predictedRoundMs?: number } } | null)?.result;
  const p = res?.plan;
  if (!p) return 're-plan requested';
  const ms = typeof res.predictedRoundMs === 'number' ? `, predicted ${res.predictedRoundMs.toFixed(1)} ms/round` : '';
  return `planner chose cuts (${p.c1}, ${p.c2}), intervals (${p.i1}, ${p.i2})${ms}; a change applies after the next synced round`;
}

function ManualPlan({ disabled, plan, onSubmit }: { disabled: boolean; plan: PlanView | null; onSubmit: (b: { c1: number; c2: number; i1: number; i2: number }) => void }) {
  const cur = plan?.current;
  const L = plan?.model?.numUnits ?? 0;
  const [v, setV] = useState({ c1: '', c2: '', i1: '', i2: '' });
  useEffect(() => {
    if (cur) setV({ c1: String(cur.c1), c2: String(cur.c2), i1: String(cur.i1), i2: String(cur.i2) });
  }, [cur?.version, cur?.runId]); // eslint-disable-line react-hooks/exhaustive-deps
  const n = { c1: Number(v.c1), c2: Number(v.c2), i1: Number(v.i1), i2: Number(v.i2) };
  const valid = Object.values(n).every((x) => Number.isInteger(x)) && n.c1 >= 0 && n.c1 <= n.c2 && n.c2 <= L && n.i1 >= 1 && n.i2 >= 1;
  function submit(e: FormEvent) {
    e.preventDefault();
    if (valid) onSubmit(n);
  }
  const field = (k: keyof typeof v, label: string, min: number, max: number) => (
    <label className="field">
      <span>{label}</span>
      <input type="number" min={min} max={max} step={1} value={v[k]} data-testid={`plan-${k}`} onChange={(e) => setV({ ...v, [k]: e.target.value })} />
    </label>
  );
  return (
    <form className="manual-plan" onSubmit={submit} data-testid="manual-plan">
      <span className="muted small">Manual plan</span>
      {field('c1', 'c1', 0, L)}
      {field('c2', 'c2', 0, L)}
      {field('i1', 'I1', 1, 1000)}
      {field('i2', 'I2', 1, 1000)}
      <button type="submit" disabled={disabled || !valid} data-testid="plan-apply">Apply plan</button>
      {!valid && cur && <span className="muted small">need 0 ≤ c1 ≤ c2 ≤ {L}, I ≥ 1</span>}
    </form>
  );
}

function NewRun({ disabled, onCreate }: { disabled: boolean; onCreate: (body: Record<string, unknown>, start: boolean) => void }) {
  const [models, setModels] = useState<ModelView[]>([]);
  const [f, setF] = useState({ name: 'dashboard-run', model: 'cnn-mnist', rounds: '300', batchSize: '32', lr: '0.05', c1: '2', c2: '5', i1: '2', i2: '4', evalEvery: '10' });
  useEffect(() => {
    api.get<{ models: ModelView[] }>('/api/models').then((r) => setModels(r.models.filter(Boolean)), () => undefined);
  }, []);
  const body = () => ({
    name: f.name, model: f.model, rounds: Number(f.rounds), batchSize: Number(f.batchSize), lr: Number(f.lr),
    c1: Number(f.c1), c2: Number(f.c2), i1: Number(f.i1), i2: Number(f.i2), evalEvery: Number(f.evalEvery),
  });
  const input = (k: keyof typeof f, label: string, type = 'number') => (
    <label className="field">
      <span>{label}</span>
      <input type={type} value={f[k]} data-testid={`new-${k}`} onChange={(e) => setF({ ...f, [k]: e.target.value })} />
    </label>
  );
  return (
    <form className="new-run" onSubmit={(e) => { e.preventDefault(); onCreate(body(), false); }} data-testid="new-run">
      {input('name', 'name', 'text')}
      <label className="field">
        <span>model</span>
        <select value={f.model} onChange={(e) => setF({ ...f, model: e.target.value })} data-testid="new-model">
          {(models.length ? models.map((m) => m.name) : [f.model]).map((m) => <option key={m} value={m}>{m}</option>)}
        </select>
      </label>
      {input('rounds', 'rounds')}
      {input('batchSize', 'batch')}
      {input('lr', 'lr')}
      {input('c1', 'c1')}
      {input('c2', 'c2')}
      {input('i1', 'I1')}
      {input('i2', 'I2')}
      {input('evalEvery', 'eval every')}
      <button type="submit" disabled={disabled}>Create</button>
      <button type="button" className="primary" disabled={disabled} onClick={() => onCreate(body(), true)}>Create &amp; start</button>
    </form>
  );
}
