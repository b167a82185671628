// vitest global setup: one PostgreSQL for the whole run (tests make a database each), unless
// TAGRELAY_TEST_DATABASE_URL names a server to use instead. Stopped when the run ends.
import type { TestProject } from 'vitest/node';
import { spawnEmbeddedPostgres } from '../scripts/postgres.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.TAGRELAY_TEST_DATABASE_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return undefined;
  }
  const server = await spawnEmbeddedPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
