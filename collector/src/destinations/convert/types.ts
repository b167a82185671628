/**
 * Convert Experiences tracking API `POST /v1/track/{accountId}/{projectId}` body and the parts of
 * the config API `GET /api/v1/config/{accountId}/{projectId}` tagrelay reads
 * (https://api.convert.com/doc/serving).
 */

export const convertGoalDataKeys = [
  'amount', 'productsCount', 'transactionId',
  'customDimension1', 'customDimension2', 'customDimension3', 'customDimension4', 'customDimension5',
] as const;

export interface ConvertGoalData {
  key: (typeof convertGoalDataKeys)[number];
  value: string | number;
}

export interface ConvertConversionEvent {
  eventType: 'conversion';
  data: {
    goalId: string;
    goalData?: ConvertGoalData[];
    bucketingData?: Record<string, string>;
  };
}

/** One visitor and its events: what one tag event maps to. Visitors are merged per request. */
export interface ConvertVisitor {
  /** Stable, opaque, not personal. */
  visitorId: string;
  events: ConvertConversionEvent[];
}

export interface ConvertTrackBody {
  accountId: string;
  projectId: string;
  /** Convert fills in the visitor's stored bucketing and segments (plan dependent). */
  enrichData?: boolean;
  visitors: ConvertVisitor[];
}

/** A goal as the config API lists it. */
export interface ConvertGoal {
  id: string | number;
  key: string;
  name?: string;
  type?: string;
}
