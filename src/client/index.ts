/** The client library: every component except the API server talks to the API through this. */
export * from './errors.js';
export * from './transport.js';
export * from './kubeconfig.js';
export { HttpsTransport, type HttpsTransportOptions } from './https-transport.js';
export { InProcessTransport } from './inprocess-transport.js';
export * from './resource.js';
export * from './discovery.js';
export * from './client.js';
export * from './cache.js';
export * from './informer.js';
export * from './shared-informer-factory.js';
export * from './rate-limiter.js';
export * from './metrics.js';
export * from './workqueue.js';
export * from './controller-runner.js';
export { type Logger, stderrLogger, silentLogger } from './log.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { sleep } from './abortable.js';
