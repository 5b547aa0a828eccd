/** The events.k8s.io/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { eventKind } from './event.js';

export const eventsKinds: KindDefinition[] = [eventKind];
