import { VendorServer, type ReceivedRequest, type VendorAnswer } from './server.js';

/** Chase's documented rules for POST /api/v2/conversions (https://docs.meetchase.ai/api-reference/endpoint/insertConversion). */
export function chaseRules(apiKey: string, knownContacts: readonly string[] = []) {
  return (req: ReceivedRequest): VendorAnswer => {
    if (req.method !== 'POST' || req.path !== '/api/v2/conversions') return { status: 404, body: { detail: 'Not Found' }, violation: `${req.method} ${req.path}` };
    if (req.headers['x-api-key'] !== apiKey) return { status: 401, body: { detail: 'Invalid API key' } };
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body);
    } catch {
      return { status: 422, body: { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] }, violation: 'body is not JSON' };
    }
    const problems: { loc: string[]; msg: string; type: string }[] = [];
    if (typeof body.email !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(body.email)) {
      problems.push({ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' });
    }
    if (body.conversion_type !== undefined && (typeof body.conversion_type !== 'string' || body.conversion_type.length > 63)) {
      problems.push({ loc: ['body', 'conversion_type'], msg: 'String should have at most 63 characters', type: 'string_too_long' });
    }
    if (body.conversion_data !== undefined && (typeof body.conversion_data !== 'object' || body.conversion_data === null)) {
      problems.push({ loc: ['body', 'conversion_data'], msg: 'Input should be a valid dictionary', type: 'dict_type' });
    }
    if (problems.length) return { status: 422, body: { detail: problems }, violation: JSON.stringify(problems) };
    const known = knownContacts.length === 0 || knownContacts.includes(String(body.email).toLowerCase());
    return known ? { status: 202, body: { message: 'Conversion queued' } } : { status: 200, body: { message: 'Contact not found' } };
  };
}

export function startChase(apiKey = 'chase-test-key', knownContacts: readonly string[] = []): Promise<VendorServer> {
  return new VendorServer(chaseRules(apiKey, knownContacts)).start();
}
