import { hash } from 'node:crypto';

/**
 * The key an event's email address is kept under after its personal data is removed (so `tagrelay
 * forget --email` still finds it): SHA-256 hex of the address trimmed and lowercased.
 */
export const emailKey = (email: string): string => hash('sha256', email.trim().toLowerCase(), 'hex');
