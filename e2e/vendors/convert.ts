import { VendorServer, type ReceivedRequest, type VendorAnswer } from './server.js';

export interface ConvertProject {
  accountId: string;
  projectId: string;
  /** The project's SDK key, for `/v1/track/{sdkKey}` and `/api/v1/config/{sdkKey}` (default `{accountId}/k{projectId}`). */
  sdkKey?: string;
  /**
   * When set, the SDK key has a secret: its endpoints need `Authorization: Bearer <secret>`. Without
   * one, they need an empty Authorization header. The default endpoints need none either way.
   */
  sdkKeySecret?: string;
  /** Convert's `settings.disable_default_config`: only the SDK key endpoints work. */
  disableDefaultConfig?: boolean;
  /** The project's goals, as the config API lists them; tests may change it while the server runs. */
  goals: { id: string; key: string; name: string; type: string }[];
}

const GOAL_DATA_KEYS = new Set(['amount', 'productsCount', 'transactionId', 'customDimension1', 'customDimension2', 'customDimension3', 'customDimension4', 'customDimension5']);
const PERSONAL_KEYS = /^(user_data|email|e-?mail_address|phone(_number)?|first_name|last_name|address|street|postal_code)$/i;
const EMAIL = /[^\s@"]+@[^\s@"]+\.[^\s@"]+/;

function personalDataIn(value: unknown, path = ''): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = personalDataIn(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (PERSONAL_KEYS.test(k)) return `${path}.${k}`;
      const found = personalDataIn(v, `${path}.${k}`);
      if (found) return found;
    }
  } else if (typeof value === 'string' && EMAIL.test(value)) return path;
  return undefined;
}

/**
 * Convert's documented rules (https://api.convert.com/doc/serving): tracking at
 * `POST /v1/track/{sdkKey}` (SDK key authentication: `Authorization: Bearer <secret>` when the key
 * has a secret, an empty header when it has none) or at the default `POST /v1/track/{accountId}/{projectId}`
 * (no authentication; refused when the project disabled its default endpoints), JSON `{accountId,
 * projectId, enrichData?, visitors: [{visitorId, events: [{eventType, data}]}]}`, goal ids the project
 * has, goalData keys from Convert's list, bucketingData as experience id → variation id; no personal
 * data. Also serves the config API at `GET /api/v1/config/{sdkKey}` and `…/{accountId}/{projectId}`
 * with the same authentication. Errors come back as `{code, message}`.
 */
export function convertRules(project: ConvertProject) {
  const { accountId, projectId } = project;
  const sdkKey = project.sdkKey ?? `${accountId}/k${projectId}`;
  return (req: ReceivedRequest): VendorAnswer => {
    const error = (status: number, message: string, violation = true): VendorAnswer => ({
      status,
      body: { code: status, message },
      violation: violation ? message : undefined,
    });
    const path = req.path.split('?')[0]!;
    const route =
      path === `/v1/track/${sdkKey}` || path === `/api/v1/config/${sdkKey}` ? 'sdk-key'
      : path === `/v1/track/${accountId}/${projectId}` || path === `/api/v1/config/${accountId}/${projectId}` ? 'default'
      : undefined;
    if (route === 'sdk-key') {
      const auth = req.headers.authorization ?? '';
      if (project.sdkKeySecret ? auth !== `Bearer ${project.sdkKeySecret}` : auth !== '') return error(401, 'Invalid SDK key secret', false);
    } else if (route === 'default' && project.disableDefaultConfig) {
      return error(403, 'Default endpoints are disabled for this project: use SDK key authentication', false);
    }
    const isConfig = path.startsWith('/api/v1/config/');
    if (req.method === 'GET' && route && isConfig) {
      return {
        status: 200,
        body: {
          account_id: accountId,
          project: { id: projectId, name: 'tagrelay e2e', type: 'fullstack', utc_offset: 0 },
          goals: project.goals,
          experiences: [],
          audiences: [],
          segments: [],
          locations: [],
          archived_experiences: [],
          features: [],
          is_debug: false,
        },
      };
    }
    if (req.method === 'GET' && isConfig) return error(404, 'Project not found', false);
    if (req.method !== 'POST' || !route || isConfig) return error(404, `${req.method} ${req.path}: Not Found`);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return error(400, 'Content-Type must be application/json');
    let b: any;
    try {
      b = JSON.parse(req.body);
    } catch {
      return error(400, 'Invalid JSON body');
    }
    const problems: string[] = [];
    if (b.accountId !== undefined && String(b.accountId) !== accountId) problems.push('accountId does not match the URL');
    if (b.projectId !== undefined && String(b.projectId) !== projectId) problems.push('projectId does not match the URL');
    if (b.enrichData !== undefined && typeof b.enrichData !== 'boolean') problems.push('enrichData must be a boolean');
    const personal = personalDataIn(b);
    if (personal) problems.push(`personal data at ${personal}`);
    if (!Array.isArray(b.visitors) || b.visitors.length === 0) problems.push('visitors must be a non-empty array');
    const goalIds = new Set(project.goals.map((g) => String(g.id)));
    (Array.isArray(b.visitors) ? b.visitors : []).forEach((v: any, i: number) => {
      const at = `visitors[${i}]`;
      if (typeof v?.visitorId !== 'string' || !v.visitorId) problems.push(`${at}.visitorId is required`);
      if (!Array.isArray(v?.events) || v.events.length === 0) return problems.push(`${at}.events must be a non-empty array`);
      v.events.forEach((e: any, j: number) => {
        const eat = `${at}.events[${j}]`;
        if (e?.eventType === 'bucketing') {
          if (typeof e.data?.experienceId !== 'string' || typeof e.data?.variationId !== 'string') problems.push(`${eat}.data needs experienceId and variationId`);
        } else if (e?.eventType === 'conversion') {
          if (!goalIds.has(String(e.data?.goalId))) problems.push(`${eat}.data.goalId ${e.data?.goalId} is not a goal of the project`);
          if (e.data?.bucketingData !== undefined) {
            const b = e.data.bucketingData;
            if (!b || typeof b !== 'object' || Array.isArray(b)) problems.push(`${eat}.data.bucketingData must be an object of experience id → variation id`);
            else for (const [experienceId, variationId] of Object.entries(b)) {
              if (!/^\d+$/.test(experienceId) || (typeof variationId !== 'string' && typeof variationId !== 'number') || !/^\d+$/.test(String(variationId))) {
                problems.push(`${eat}.data.bucketingData ${experienceId}: ${JSON.stringify(variationId)} is not experience id → variation id`);
              }
            }
          }
          if (e.data?.goalData !== undefined) {
            if (!Array.isArray(e.data.goalData)) problems.push(`${eat}.data.goalData must be an array`);
            else e.data.goalData.forEach((d: any, k: number) => {
              if (!GOAL_DATA_KEYS.has(d?.key)) problems.push(`${eat}.data.goalData[${k}].key ${d?.key} is not a goal data key`);
              else if (d.key === 'amount' && typeof d.value !== 'number') problems.push(`${eat}.data.goalData[${k}] amount must be a number`);
              else if (d.key === 'productsCount' && !Number.isInteger(d.value)) problems.push(`${eat}.data.goalData[${k}] productsCount must be an integer`);
              else if (d.key === 'transactionId' && typeof d.value !== 'string') problems.push(`${eat}.data.goalData[${k}] transactionId must be a string`);
            });
          }
        } else problems.push(`${eat}.eventType must be bucketing or conversion`);
      });
    });
    if (problems.length) return error(400, problems.join('; '));
    return { status: 200, body: { code: 200, message: 'OK' } };
  };
}

export const defaultConvertGoals = [
  { id: '100136097', key: 'checkout-complete', name: 'Checkout complete', type: 'revenue' },
  { id: '100134910', key: 'add-to-cart', name: 'Add to cart', type: 'dom_interaction' },
  { id: '100132287', key: 'lead', name: 'Lead form', type: 'submits_form' },
];

export function startConvert(project: Partial<ConvertProject> = {}): Promise<VendorServer> {
  return new VendorServer(
    convertRules({ accountId: '10012', projectId: '10034', goals: defaultConvertGoals.map((g) => ({ ...g })), ...project }),
  ).start();
}
