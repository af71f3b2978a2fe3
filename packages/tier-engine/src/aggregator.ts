// The aggregation seam: how the copies of one tier are combined at a sync.
// A run names its rule (Plan.aggregator); both the edge (pre-averaging its
// devices) and the cloud look the rule up here, so a new rule is one file
// registered below, not an edit to two roles in lockstep.
import { ProtocolError } from '@hsfl/protocol';
import { fedAvg } from '@hsfl/runtime';

/** One copy of a tier's weights and the samples its holder was observed to train on since the last sync. */
export interface Copy {
  weights: Float32Array[];
  samples: number;
}

export interface Aggregator {
  readonly name: string;
  /**
   * Combines copies into the tier's new weights. Copies with 0 samples take
   * no part. Plain SGD keeps no optimizer state, so there is none to average;
   * a stateful rule would carry it in its weight list and say so here.
   */
  combine(copies: readonly Copy[]): Float32Array[];
}

/** FedAvg (DESIGN §2): the sample-weighted mean of the copies. */
export const fedAvgAggregator: Aggregator = {
  name: 'fedavg',
  combine(copies) {
    const used = copies.filter((c) => c.samples > 0);
    if (used.length === 0) throw new Error('no copy trained on any sample since the last sync');
    return fedAvg(used.map((c) => c.weights), used.map((c) => c.samples));
  },
};

const REGISTRY = new Map<string, Aggregator>([[fedAvgAggregator.name, fedAvgAggregator]]);

export const AGGREGATORS: readonly string[] = [...REGISTRY.keys()];

/** The aggregator a plan names ('' means fedavg); 'malformed' for an unknown name. */
export function aggregatorFor(name: string | undefined): Aggregator {
  const a = REGISTRY.get(name || fedAvgAggregator.name);
  if (!a) throw new ProtocolError('malformed', `unknown aggregator ${JSON.stringify(name)}; known: ${AGGREGATORS.join(', ')}`);
  return a;
}
