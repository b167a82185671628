export interface EmbeddedPostgresServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
}
export function spawnEmbeddedPostgres(opts?: {
  durable?: boolean;
  maxConnections?: number;
}): Promise<EmbeddedPostgresServer>;
export function createDatabase(
  serverUrl: string,
  prefix?: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }>;
