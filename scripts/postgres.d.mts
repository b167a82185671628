export interface EmbeddedPostgresServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
}
export function startEmbeddedPostgres(opts?: {
  durable?: boolean;
  maxConnections?: number;
  log?: (message: unknown) => void;
}): Promise<EmbeddedPostgresServer>;
export function createDatabase(
  serverUrl: string,
  prefix?: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }>;
