/** Chase `POST /api/v2/conversions` body (shared/reference/chase-conversions.txt). */
export interface ChaseConversion {
  email: string;
  /** At most 63 characters. */
  conversion_type?: string;
  conversion_data?: Record<string, unknown>;
}
