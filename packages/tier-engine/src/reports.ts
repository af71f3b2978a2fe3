// What a child reports about a round, checked before anything uses it, and
// the samples a parent itself observed from each child: FedAvg weighs by
// those, never by what a child claims.
import { EVENTS, ProtocolError, checkFigure, isNodeId, MAX_DEVICES_PER_EDGE, type MessageOf } from '@hsfl/protocol';

export type RoundReport = MessageOf<typeof EVENTS.roundDone>;

/**
 * Refuses (ProtocolError) a RoundDone with a figure that is not finite and
 * >= 0, more late ids than a tier can hold, a malformed id, or gradient
 * statistics outside the model. One bad report never ends a run.
 */
export function checkRoundDone(m: RoundReport, numUnits: number): RoundReport {
  checkFigure(m.samples, 'samples');
  checkFigure(m.computeMs, 'computeMs');
  checkFigure(m.maxChildComputeMs, 'maxChildComputeMs');
  checkFigure(m.waitMs, 'waitMs');
  checkFigure(m.bytesDownUp, 'bytesDownUp');
  checkFigure(m.bytesDownDown, 'bytesDownDown');
  if (m.late.length > MAX_DEVICES_PER_EDGE || m.late.some((id) => !isNodeId(id))) throw new ProtocolError('malformed', 'late must list at most one valid id per child');
  if (m.gradSq.length > numUnits || m.gradSqStart + m.gradSq.length > numUnits) throw new ProtocolError('bad_shape', `gradient statistics beyond the model's ${numUnits} units`);
  m.gradSq.forEach((v, i) => checkFigure(v, `gradSq[${i}]`));
  return m;
}

/** Samples observed from each child since its tier was last averaged. */
export class SampleLedger {
  private readonly seen = new Map<string, number>();

  add(id: string, n: number): void {
    this.seen.set(id, (this.seen.get(id) ?? 0) + n);
  }

  of(id: string): number {
    return this.seen.get(id) ?? 0;
  }

  get total(): number {
    let t = 0;
    for (const v of this.seen.values()) t += v;
    return t;
  }

  reset(): void {
    this.seen.clear();
  }

  /**
   * Forgets the children `keep` rejects. A child that left and rejoins is
   * welcomed with the last average, so what it trained before leaving no
   * longer counts; pruning after each round bounds the ledger by the
   * children joined (plus those of the round just ended).
   */
  retain(keep: (id: string) => boolean): void {
    for (const id of this.seen.keys()) if (!keep(id)) this.seen.delete(id);
  }

  /** Children with samples recorded. */
  get size(): number {
    return this.seen.size;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.seen);
  }
}
