import { chase } from './chase/index.js';
import type { DestinationDefinition } from './types.js';

/** Every destination tagrelay knows, by config key. */
export const destinationDefinitions: Record<string, DestinationDefinition<any, any>> = {
  chase,
};
