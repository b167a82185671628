/**
 * Convert Experiences tracking API body and the parts of the config API tagrelay reads
 * (https://api.convert.com/doc/serving): with SDK key authentication `POST /v1/track/{sdkKey}` and
 * `GET /api/v1/config/{sdkKey}` (the SDK key's secret as `Authorization: Bearer`), otherwise the
 * default endpoints `POST /v1/track/{accountId}/{projectId}` and `GET /api/v1/config/{accountId}/{projectId}`.
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
    /** Experience id → variation id the visitor was bucketed into (from the `_conv_v` cookie). */
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
  /** Convert fills in the visitor's stored bucketing and segments ("only available for some plans"). */
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
