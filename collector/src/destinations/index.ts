import { chase } from './chase/index.js';
import { convert } from './convert/index.js';
import { impact } from './impact/index.js';
import { nextdoor } from './nextdoor/index.js';
import type { DestinationDefinition } from './types.js';

/** Every destination tagrelay knows, by config key. */
export const destinationDefinitions: Record<string, DestinationDefinition<any, any>> = {
  chase,
  convert,
  impact,
  nextdoor,
};
