import { useState, type FormEvent } from 'react';
import { api, ApiError, setCsrfToken } from '../api';
import type { Role } from '../types';

/** The login page: the operator pastes the admin or viewer token; the server answers with an httpOnly session cookie. */
export function Login({ onLoggedIn, notice }: { onLoggedIn: (role: Role) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(notice ?? null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ role: Role; csrfToken: string }>('/api/login', { token: token.trim() });
      setCsrfToken(r.csrfToken);
      onLoggedIn(r.role);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid for this coordinator.'
        : err instanceof ApiError && err.status === 429 ? `Too many login attempts: ${err.message}`
        : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="login-page">
      <form className="login-card" onSubmit={submit} data-testid="login-form">
        <div className="brand">
          <span className="logo">◆</span> hsfl
        </div>
        <h1>Federation dashboard</h1>
        <p className="muted">
          Log in with the operator token the coordinator printed at start-up: the <b>admin</b> token can steer runs, the <b>viewer</b> token can only look.
        </p>
        <label htmlFor="token">Token</label>
        <input
          id="token" type="password" autoComplete="current-password" autoFocus value={token} data-testid="login-token"
          onChange={(e) => setToken(e.target.value)} placeholder="paste the token"
        />
        {error && <div className="error" data-testid="login-error">{error}</div>}
        <button type="submit" className="primary" disabled={busy || token.trim() === ''} data-testid="login-submit">
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
