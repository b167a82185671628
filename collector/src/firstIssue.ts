import type { z } from 'zod';

/**
 * The first problem zod found, as `path.to.key: message`, the path starting with `prefix`; `whole`
 * names the value itself when the problem is at its root. Used for config errors and /collect answers.
 */
export function firstIssue(error: z.ZodError, prefix: (string | number)[] = [], whole = '(root)'): string {
  const issue = error.issues[0]!;
  const path = [...prefix, ...issue.path.map(String)].filter((p) => p !== '');
  return `${path.length ? path.join('.') : whole}: ${issue.message}`;
}
