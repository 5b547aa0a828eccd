/** The batch/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { cronJobKind } from './cron-job.js';
import { jobKind } from './job.js';

export const batchKinds: KindDefinition[] = [jobKind, cronJobKind];
