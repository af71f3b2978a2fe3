import { bytes, clock, duration, ms } from '../format';
import type { PlanView } from '../types';

const TIERS = [
  { key: 'device', label: 'devices' },
  { key: 'edge', label: 'edges' },
  { key: 'cloud', label: 'cloud' },
] as const;

function Prediction({ p }: { p: unknown }) {
  if (!p || typeof p !== 'object') return <span className="muted">none (configured plan)</span>;
  const o = p as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof o.predictedRoundMs === 'number') parts.push(`round ${ms(o.predictedRoundMs)}`);
  if (typeof o.rounds === 'number') parts.push(`${Math.round(o.rounds)} rounds to target`);
  if (typeof o.objective === 'number') parts.push(`time to target ${duration(o.objective / 1000)}`);
  if (!parts.length && typeof o.source === 'string') return <span>{o.source} plan (no prediction)</span>;
  if (!parts.length) return <code className="small">{JSON.stringify(p).slice(0, 160)}</code>;
  return <span>{parts.join(' · ')}</span>;
}

/** The model's layers with the cuts (c1, c2) drawn on them, the aggregation intervals, the prediction and the plan history. */
export function ModelPlan({ plan }: { plan: PlanView | null }) {
  const cur = plan?.current;
  const model = plan?.model;
  if (!plan || !cur || !model) {
    return (
      <section className="panel" data-testid="model-plan">
        <h2>Model and plan</h2>
        <p className="muted">No plan yet: it appears when a run starts.</p>
      </section>
    );
  }
  const L = model.numUnits;
  const tierOf = (k: number) => (k < cur.c1 ? 'device' : k < cur.c2 ? 'edge' : 'cloud');
  const spans = [
    { tier: TIERS[0], from: 0, to: cur.c1, note: `FedAvg every I1 = ${cur.i1} round${cur.i1 === 1 ? '' : 's'}` },
    { tier: TIERS[1], from: cur.c1, to: cur.c2, note: `FedAvg every I2 = ${cur.i2} round${cur.i2 === 1 ? '' : 's'}` },
    { tier: TIERS[2], from: cur.c2, to: L, note: 'one copy' },
  ];
  return (
    <section className="panel" data-testid="model-plan">
      <div className="panel-head">
        <h2>Model and plan</h2>
        <span className="small" data-testid="plan-summary" data-c1={cur.c1} data-c2={cur.c2} data-i1={cur.i1} data-i2={cur.i2} data-version={cur.version}>
          plan v{cur.version}: cuts ({cur.c1}, {cur.c2}) · I1 {cur.i1} · I2 {cur.i2}
        </span>
      </div>
      <div className="muted small">{model.name} · {L} units · batch {cur.batchSize} · lr {cur.lr}</div>
      <div className="strip-wrap">
        <div className="tier-bands" style={{ gridTemplateColumns: `repeat(${L}, 1fr)` }}>
          {spans.map((s) =>
            s.to > s.from ? (
              <div key={s.tier.key} className={`band ${s.tier.key}`} style={{ gridColumn: `${s.from + 1} / ${s.to + 1}` }} data-testid={`band-${s.tier.key}`}>
                <b>{s.tier.label}</b> <span>[{s.from}, {s.to})</span>
                <div className="small">{s.note}</div>
              </div>
            ) : null,
          )}
        </div>
        <div className="strip" data-testid="model-strip" style={{ gridTemplateColumns: `repeat(${L}, 1fr)` }}>
          {model.units.map((u, k) => (
            <div key={k} className={`unit ${tierOf(k)}`} data-testid={`unit-${k}`} data-tier={tierOf(k)} title={`${u.name}: ${bytes(u.paramBytes)} of weights, ${bytes(u.outputBytesPerSample)} of activations per sample`}>
              <div className="unit-name">{u.name}</div>
              <div className="unit-meta">{u.paramBytes ? bytes(u.paramBytes) : 'no weights'}</div>
              <div className="unit-meta">out {bytes(u.outputBytesPerSample)}</div>
            </div>
          ))}
          {(['c1', 'c2'] as const).map((c) => (
            <div key={c} className={`cut ${c}`} data-testid={`cut-${c}`} data-at={cur[c]} style={{ left: `${(cur[c] / L) * 100}%` }}>
              <span>{c} = {cur[c]}</span>
            </div>
          ))}
        </div>
      </div>
      <div className="plan-facts small">
        <div><span className="muted">prediction</span> <Prediction p={plan.prediction} /></div>
        <div><span className="muted">why</span> {plan.reason ?? '–'}{plan.appliedAtRound !== null ? ` · applied at round ${plan.appliedAtRound}` : ''}</div>
        {!plan.replanAvailable && <div className="muted">planner not available on this coordinator: re-plan answers 501; manual plans work</div>}
      </div>
      {plan.history.length > 0 && (
        <table className="history small" data-testid="plan-history">
          <thead><tr><th>v</th><th>cuts</th><th>I1, I2</th><th>applied</th><th>reason</th><th>at</th></tr></thead>
          <tbody>
            {plan.history.slice().reverse().map((h) => (
              <tr key={h.version}>
                <td>{h.version}</td><td>({h.plan.c1}, {h.plan.c2})</td><td>{h.plan.i1}, {h.plan.i2}</td>
                <td>{h.appliedAtRound ?? '–'}</td><td>{h.reason}</td><td>{clock(h.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
