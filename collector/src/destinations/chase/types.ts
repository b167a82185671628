/** Chase `POST /api/v2/conversions` body (https://docs.meetchase.ai/api-reference/endpoint/insertConversion). */
export interface ChaseConversion {
  email: string;
  /** At most 63 characters. */
  conversion_type?: string;
  /** The event's non-personal properties and its `event_id` (the same for every retry of the event). */
  conversion_data?: Record<string, unknown>;
}
