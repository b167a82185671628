import { VendorServer, type ReceivedRequest, type VendorAnswer } from './server.js';

export interface ConvertProject {
  accountId: string;
  projectId: string;
  /** When set, the SDK key has a secret: tracking needs `Authorization: Bearer <secret>`. */
  sdkKeySecret?: string;
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
 * Convert's documented rules (https://api.convert.com/doc/serving):
 * `POST /v1/track/{accountId}/{projectId}` JSON `{accountId, projectId, enrichData?, visitors:
 * [{visitorId, events: [{eventType, data}]}]}` with Bearer auth when the SDK key has a secret, goal
 * ids the project has, goalData keys from Convert's list; no personal data. Also serves the config
 * API `GET /api/v1/config/{accountId}/{projectId}`. Errors come back as `{code, message}`.
 */
export function convertRules(project: ConvertProject) {
  const { accountId, projectId } = project;
  return (req: ReceivedRequest): VendorAnswer => {
    const error = (status: number, message: string, violation = true): VendorAnswer => ({
      status,
      body: { code: status, message },
      violation: violation ? message : undefined,
    });
    if (req.method === 'GET' && req.path.split('?')[0] === `/api/v1/config/${accountId}/${projectId}`) {
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
    if (req.method === 'GET' && req.path.startsWith('/api/v1/config/')) return error(404, 'Project not found', false);
    if (req.method !== 'POST' || req.path !== `/v1/track/${accountId}/${projectId}`) return error(404, `${req.method} ${req.path}: Not Found`);
    if (project.sdkKeySecret && req.headers.authorization !== `Bearer ${project.sdkKeySecret}`) return error(401, 'Invalid SDK key secret', false);
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
