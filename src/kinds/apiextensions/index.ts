import type { KindDefinition } from '../types.js';
import { customResourceDefinitionKind } from './customresourcedefinition.js';

export const apiextensionsKinds: KindDefinition[] = [customResourceDefinitionKind];
