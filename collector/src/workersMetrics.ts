import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * /metrics of `tagrelay serve --workers N`. The primary hands each connection to one worker, so a scrape
 * reached one process and showed its counts alone: the counters of two scrapes in a row came from different
 * processes and went down and up again, which Prometheus reads as restarts. So the worker that takes a
 * scrape asks the primary, which asks every worker for its metrics and adds them up (prom-client's cluster
 * aggregation: counters and histograms summed, each gauge as its `Aggregator` says), and answers with that.
 * https://github.com/siimon/prom-client#usage-with-nodejss-cluster-module
 */

interface MetricsMessage {
  tagrelay?: string;
  id?: number;
  text?: string;
  error?: string;
}

const MESSAGE = 'metrics';

/**
 * In the primary: answers each worker's request for the metrics of all of them. prom-client gives up on workers
 * that do not answer within 5 s, so every request is answered, with the metrics or with why not.
 */
export function serveWorkersMetrics(): void {
  const all = new AggregatorRegistry();
  cluster.on('message', (worker, msg: MetricsMessage) => {
    if (msg?.tagrelay !== MESSAGE) return;
    const answer = (reply: Omit<MetricsMessage, 'tagrelay' | 'id'>) => {
      // The worker may have died meanwhile.
      if (worker.isConnected()) worker.send({ tagrelay: MESSAGE, id: msg.id, ...reply });
    };
    all.clusterMetrics().then(
      (text) => answer({ text }),
      (e: unknown) => answer({ error: (e as Error).message }),
    );
  });
}

/**
 * In a worker: gives `registry` to the primary whenever it asks, and returns what renders the metrics of all
 * the workers (rejecting when the primary says they did not all answer). A worker whose primary is gone stops.
 */
export function workersMetrics(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructed in a worker, it answers the primary's requests for this process's metrics.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void }>();
  process.on('message', (msg: MetricsMessage) => {
    if (msg?.tagrelay !== MESSAGE || msg.id === undefined) return;
    const waiter = waiting.get(msg.id);
    if (!waiter) return;
    waiting.delete(msg.id);
    if (msg.text !== undefined) waiter.resolve(msg.text);
    else waiter.reject(new Error(`the workers' metrics: ${msg.error ?? 'no answer'}`));
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      process.send!({ tagrelay: MESSAGE, id });
    });
}
