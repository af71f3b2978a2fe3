import { useState } from 'react';
import { clock } from '../format';
import type { EventRow } from '../types';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** The coordinator's events, newest first. */
export function EventLog({ events }: { events: EventRow[] }) {
  const [min, setMin] = useState<(typeof LEVELS)[number]>('info');
  const shown = events.filter((e) => LEVELS.indexOf(e.level) >= LEVELS.indexOf(min)).slice(0, 200);
  return (
    <section className="panel" data-testid="event-log">
      <div className="panel-head">
        <h2>Events</h2>
        <label className="small muted">
          level ≥{' '}
          <select value={min} onChange={(e) => setMin(e.target.value as (typeof LEVELS)[number])}>
            {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
        </label>
      </div>
      {shown.length === 0 ? (
        <p className="muted">No events yet.</p>
      ) : (
        <ol className="events">
          {shown.map((e) => (
            <li key={e.id} className={`ev ${e.level}`} data-testid="event-row" data-kind={e.kind}>
              <span className="ev-time">{clock(e.at)}</span>
              <span className={`ev-level ${e.level}`}>{e.level}</span>
              <span className="ev-kind">{e.kind}</span>
              <span className="ev-msg">{e.message}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
