import assert from 'node:assert/strict';
import { Auth, DEFAULT_SESSIONS_PER_ROLE } from './auth.js';

const ADMIN = 'admin-token-0123';
const VIEWER = 'viewer-token-0123';

describe('Auth: sessions bounded per principal, CSRF tokens', () => {
  it('2,000 viewer logins end only viewer sessions: the admin stays logged in', () => {
    const auth = new Auth(ADMIN, VIEWER);
    const admin = auth.createSession('admin');
    const viewers = Array.from({ length: 2000 }, () => auth.createSession('viewer'));
    assert.equal(auth.roleForSession(admin.id), 'admin');
    assert.equal(auth.sessionCount('admin'), 1);
    assert.equal(auth.sessionCount('viewer'), DEFAULT_SESSIONS_PER_ROLE);
    // The viewer's oldest went, its newest are live.
    assert.equal(auth.roleForSession(viewers[0]!.id), undefined);
    assert.equal(auth.roleForSession(viewers[1999]!.id), 'viewer');
    assert.equal(auth.roleForSession(viewers[2000 - DEFAULT_SESSIONS_PER_ROLE]!.id), 'viewer');
    assert.equal(auth.roleForSession(viewers[2000 - DEFAULT_SESSIONS_PER_ROLE - 1]!.id), undefined);
  });

  it('an admin at its bound gives up its own oldest session, never a viewer\'s', () => {
    const auth = new Auth(ADMIN, VIEWER, 3600_000, 3);
    const viewer = auth.createSession('viewer');
    const admins = [1, 2, 3, 4].map(() => auth.createSession('admin'));
    assert.equal(auth.roleForSession(admins[0]!.id), undefined);
    assert.deepEqual(admins.slice(1).map((s) => auth.roleForSession(s.id)), ['admin', 'admin', 'admin']);
    assert.equal(auth.roleForSession(viewer.id), 'viewer');
  });

  it('expired sessions end and do not count against the bound', async () => {
    const auth = new Auth(ADMIN, VIEWER, 30, 2);
    const a = auth.createSession('admin');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(auth.roleForSession(a.id), undefined);
    assert.equal(auth.sessionCount('admin'), 0);
  });

  it('hands each session its own CSRF token and checks it in constant time', () => {
    const auth = new Auth(ADMIN, VIEWER);
    const a = auth.createSession('admin');
    const b = auth.createSession('admin');
    assert.notEqual(a.csrfToken, b.csrfToken);
    assert.equal(auth.csrfToken(a.id), a.csrfToken);
    assert.equal(auth.checkCsrf(a.id, a.csrfToken), true);
    for (const wrong of [b.csrfToken, undefined, '', a.csrfToken + '=', a.csrfToken + '!', a.csrfToken.slice(1), ['x'], 'x'.repeat(200)]) {
      assert.equal(auth.checkCsrf(a.id, wrong), false, JSON.stringify(wrong));
    }
    assert.equal(auth.checkCsrf('no-such-session', a.csrfToken), false);
    auth.destroySession(a.id);
    assert.equal(auth.checkCsrf(a.id, a.csrfToken), false);
    assert.equal(auth.csrfToken(a.id), undefined);
  });

  it('identifies bearer tokens and sessions (the header wins) and refuses a bad bound', () => {
    const auth = new Auth(ADMIN, VIEWER);
    const s = auth.createSession('viewer');
    assert.deepEqual(auth.identify(undefined, s.id), { role: 'viewer', via: 'session', sid: s.id });
    assert.deepEqual(auth.identify(`Bearer ${ADMIN}`, s.id), { role: 'admin', via: 'bearer' });
    assert.equal(auth.identify('Bearer nope-nope-nope', s.id), undefined);
    assert.throws(() => new Auth(ADMIN, VIEWER, 1000, 0), /sessions per role must be a whole number >= 1/);
  });
});
