import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, setCsrfToken } from './api';
import { Login } from './components/Login';
import { Dashboard } from './components/Dashboard';
import type { Role } from './types';

type Session = { state: 'checking' } | { state: 'out'; reason?: string } | { state: 'in'; role: Role };

/** Checks the session cookie; shows the login page or the dashboard. */
export function App() {
  const [session, setSession] = useState<Session>({ state: 'checking' });

  const check = useCallback(async () => {
    try {
      // After a reload the page has lost the CSRF token; the session hands it out again.
      const s = await api.get<{ role: Role; csrfToken?: string }>('/api/session');
      setCsrfToken(s.csrfToken);
      setSession({ state: 'in', role: s.role });
    } catch (err) {
      setSession({ state: 'out', reason: err instanceof ApiError && err.status !== 401 ? err.message : undefined });
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  const logout = useCallback(async () => {
    try {
      await api.post('/api/logout');
    } finally {
      setCsrfToken(null);
      setSession({ state: 'out' });
    }
  }, []);

  if (session.state === 'checking') return <div className="splash">connecting…</div>;
  if (session.state === 'out') return <Login onLoggedIn={(role) => setSession({ state: 'in', role })} notice={session.reason} />;
  return <Dashboard role={session.role} onLogout={logout} onUnauthorized={() => setSession({ state: 'out', reason: 'your session has ended; log in again' })} />;
}
