import { useState } from 'react';
import { api } from '../api';
import { bytes, ms, rate } from '../format';
import type { CapacitySummary, NodeView, NodesView, Plan } from '../types';

/** Per-sample compute of the units a node holds under the plan (fwd + bwd), from its capacity report. */
function tierCompute(c: CapacitySummary, from: number, to: number): number | null {
  if (!c.fwdMsPerSample.length && !c.bwdMsPerSample.length) return null;
  let s = 0;
  for (let k = from; k < to; k++) s += (c.fwdMsPerSample[k] ?? 0) + (c.bwdMsPerSample[k] ?? 0);
  return s;
}

function Capacity({ c, range }: { c: CapacitySummary | null; range: [number, number] | null }) {
  if (!c) return <div className="cap muted small">capacity: not measured yet</div>;
  const share = range ? tierCompute(c, range[0], range[1]) : null;
  return (
    <div className="cap small" data-testid="capacity">
      <div>
        compute <b>{ms(share ?? c.computeMsPerSample)}</b>/sample{share !== null && range ? ` on its units [${range[0]}, ${range[1]})` : ' (whole model)'}
      </div>
      {(c.upBytesPerSec !== null || c.rttMs !== null) && (
        <div>link ↑ {rate(c.upBytesPerSec)} ↓ {rate(c.downBytesPerSec)} · RTT {ms(c.rttMs)}</div>
      )}
      {c.memFreeBytes !== null && <div>memory {bytes(c.memFreeBytes)} free{c.memTotalBytes ? ` of ${bytes(c.memTotalBytes)}` : ''}{c.cpus ? ` · ${c.cpus} CPUs` : ''}</div>}
    </div>
  );
}

function NodeHead({ n }: { n: NodeView }) {
  return (
    <div className="node-head">
      <span className={`dot ${n.status === 'connected' ? 'ok' : n.status === 'removed' ? 'bad' : 'warn'}`} />
      <span className="node-id">{n.id}</span>
      <span className="chip" title="tfjs backend">{n.backend ?? '?'}</span>
      <span className={`status-text ${n.status}`} data-testid={`node-status-${n.id}`}>{n.status}</span>
    </div>
  );
}

function Device({ d, plan, admin }: { d: NodeView; plan: Plan | null; admin: boolean }) {
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function remove() {
    setError(null);
    try {
      await api.del(`/api/nodes/${encodeURIComponent(d.id)}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
    setConfirm(false);
  }
  return (
    <div className={`node device ${d.status}`} data-testid={`node-${d.id}`} data-status={d.status} data-role="device">
      <NodeHead n={d} />
      <div className="small muted">{d.samples !== null ? `${d.samples.toLocaleString()} samples` : ''}{d.host ? ` · ${d.host}` : ''}</div>
      <Capacity c={d.capacity} range={plan ? [0, plan.c1] : null} />
      {admin && d.status === 'connected' && (
        <div className="node-actions">
          {confirm ? (
            <>
              <button className="danger small-btn" onClick={remove} data-testid={`confirm-remove-${d.id}`}>remove for this run</button>
              <button className="link small" onClick={() => setConfirm(false)}>cancel</button>
            </>
          ) : (
            <button className="danger-outline small-btn" onClick={() => setConfirm(true)} data-testid={`remove-${d.id}`}>remove</button>
          )}
        </div>
      )}
      {error && <div className="error small">{error}</div>}
    </div>
  );
}

/** Cloud → edges → devices, with status, backend, samples and measured capacity. */
export function Topology({ nodes, plan, admin }: { nodes: NodesView | null; plan: Plan | null; admin: boolean }) {
  if (!nodes) return <section className="panel"><h2>Topology</h2><p className="muted">waiting for the coordinator…</p></section>;
  return (
    <section className="panel topology" data-testid="topology">
      <div className="panel-head">
        <h2>Topology</h2>
        <span className="muted small">{nodes.counts.edges} edges · {nodes.counts.devices} devices</span>
      </div>
      <div className="node cloud" data-testid="node-cloud">
        <NodeHead n={nodes.cloud} />
        <div className="small muted">{nodes.cloud.host}{plan ? ` · holds units [${plan.c2}, end)` : ''}</div>
      </div>
      {nodes.edges.length === 0 && <p className="muted">No edge aggregator has joined yet.</p>}
      <div className="edges">
        {nodes.edges.map((e) => (
          <div className="edge-col" key={e.id}>
            <div className="node edge" data-testid={`node-${e.id}`} data-status={e.status} data-role="edge">
              <NodeHead n={e} />
              <div className="small muted">{e.host}{plan ? ` · units [${plan.c1}, ${plan.c2})` : ''}</div>
              <Capacity c={e.capacity} range={plan ? [plan.c1, plan.c2] : null} />
            </div>
            <div className="devices">
              {e.devices.length === 0 && <div className="muted small">no devices</div>}
              {e.devices.map((d) => <Device key={d.id} d={d} plan={plan} admin={admin} />)}
            </div>
          </div>
        ))}
      </div>
      {nodes.departed.length > 0 && (
        <div className="departed" data-testid="departed">
          <h3>Left or removed</h3>
          {nodes.departed.map((n) => (
            <div key={n.id} className={`node mini ${n.status}`} data-testid={`node-${n.id}`} data-status={n.status} data-role={n.role}>
              <NodeHead n={n} />
              <span className="small muted">{n.role}{n.parentId ? ` under ${n.parentId}` : ''}</span>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
