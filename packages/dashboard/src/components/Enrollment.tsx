import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import type { EnrollmentView } from '../types';

type Msg = { kind: 'ok' | 'error'; text: string } | null;

/** Hands the browser a JSON document as a file to save (a node's bundle). */
function download(name: string, data: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Enrolled nodes (connected, enrolled, revoked); admins enroll a node (its bundle downloads) and revoke one. */
export function Enrollment({ admin, refreshKey }: { admin: boolean; refreshKey: unknown }) {
  const [view, setView] = useState<EnrollmentView | null>(null);
  const [msg, setMsg] = useState<Msg>(null);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [f, setF] = useState({ role: 'device' as 'device' | 'edge', id: '', edge: '', parentUrl: '' });
  const load = useCallback(() => {
    api.get<EnrollmentView>('/api/enrollment').then(setView, (err: Error) => setMsg({ kind: 'error', text: `enrolled nodes: ${err.message}` }));
  }, []);
  useEffect(() => load(), [load, refreshKey]);

  async function enroll(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setMsg(null);
    try {
      const body: Record<string, unknown> = { role: f.role, id: f.id.trim() };
      if (f.role === 'device' && f.edge.trim()) body.edge = f.edge.trim();
      if (f.parentUrl.trim()) body.parentUrl = f.parentUrl.trim();
      const bundle = await api.post<{ id: string }>('/api/enrollment', body);
      download(`${bundle.id}.hsfl.json`, bundle);
      setMsg({ kind: 'ok', text: `${f.role} ${bundle.id} enrolled: its bundle ${bundle.id}.hsfl.json downloaded (secret: copy it to the node over a trusted channel)` });
      setF({ ...f, id: '' });
      load();
    } catch (err) {
      setMsg({ kind: 'error', text: `enroll: ${err instanceof Error ? err.message : String(err)}` });
    } finally {
      setBusy(false);
    }
  }

  async function revoke(id: string) {
    setConfirm(null);
    setBusy(true);
    setMsg(null);
    try {
      await api.post(`/api/enrollment/${encodeURIComponent(id)}/revoke`, { reason: 'revoked from the dashboard' });
      setMsg({ kind: 'ok', text: `${id} revoked: disconnected, and it cannot rejoin` });
      load();
    } catch (err) {
      setMsg({ kind: 'error', text: `revoke ${id}: ${err instanceof Error ? err.message : String(err)}` });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel" data-testid="enrollment">
      <div className="panel-head">
        <h2>Enrolled nodes</h2>
        <span className="muted small">
          {view && (view.secure ? `TLS · CA ${view.caFingerprint?.slice(0, 23)}…` : 'insecure mode: nodes join with the shared token')}
        </span>
      </div>
      {view && view.nodes.length > 0 && (
        <table className="enrolled" data-testid="enrolled-table">
          <thead>
            <tr><th>id</th><th>role</th><th>edge</th><th>state</th><th>expires</th>{admin && <th />}</tr>
          </thead>
          <tbody>
            {view.nodes.map((n) => (
              <tr key={n.id} data-testid={`enrolled-${n.id}`} data-state={n.state}>
                <td>{n.id}</td>
                <td>{n.role}</td>
                <td>{n.edge ?? '–'}</td>
                <td><span className={`badge state-${n.state}`} title={n.revokedReason ?? ''}>{n.state}</span></td>
                <td className="muted small">{n.expiresAt ? new Date(n.expiresAt).toISOString().slice(0, 10) : '–'}</td>
                {admin && (
                  <td>
                    {n.state !== 'revoked' && (confirm === n.id
                      ? <button className="danger small-btn" disabled={busy} data-testid={`revoke-confirm-${n.id}`} onClick={() => void revoke(n.id)}>confirm revoke</button>
                      : <button className="danger-outline small-btn" disabled={busy} data-testid={`revoke-${n.id}`} onClick={() => setConfirm(n.id)}>revoke</button>)}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {view && view.secure && view.nodes.length === 0 && <p className="muted">No node is enrolled yet.</p>}
      {admin && view?.secure && (
        <form className="new-run" onSubmit={(e) => void enroll(e)} data-testid="enroll-form">
          <label className="field">
            <span>role</span>
            <select value={f.role} onChange={(e) => setF({ ...f, role: e.target.value as 'device' | 'edge' })} data-testid="enroll-role">
              <option value="device">device</option>
              <option value="edge">edge</option>
            </select>
          </label>
          <label className="field"><span>id</span><input type="text" value={f.id} data-testid="enroll-id" onChange={(e) => setF({ ...f, id: e.target.value })} /></label>
          {f.role === 'device' && (
            <label className="field"><span>edge (optional)</span><input type="text" value={f.edge} data-testid="enroll-edge" onChange={(e) => setF({ ...f, edge: e.target.value })} /></label>
          )}
          <label className="field"><span>parent address (optional)</span><input type="text" placeholder="https://10.0.0.2:7100" value={f.parentUrl} data-testid="enroll-parent" onChange={(e) => setF({ ...f, parentUrl: e.target.value })} /></label>
          <button type="submit" className="primary" disabled={busy || !f.id.trim()} data-testid="enroll-submit">Enroll &amp; download bundle</button>
        </form>
      )}
      {msg && <div className={`message ${msg.kind}`} data-testid="enroll-message">{msg.text}</div>}
    </section>
  );
}
