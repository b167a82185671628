export interface EmbeddedPostgresServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  /** The process that runs the server: its descendants are PostgreSQL's processes. */
  pid: number;
  /** Stops the server (ending its connections) and starts it again on the same port `downMs` later. */
  restart(downMs?: number): Promise<void>;
  /** Kills the server and its backends (SIGKILL) and starts it again `downMs` later: crash recovery. */
  crash(downMs?: number): Promise<void>;
  /**
   * Starts a standby streaming from this server (which stops for a moment to be copied): read-only until
   * `SELECT pg_promote()`; stopped with the server.
   */
  standby(): Promise<{ url: string }>;
  stop(): Promise<void>;
}
export function spawnEmbeddedPostgres(opts?: {
  durable?: boolean;
  maxConnections?: number;
  /** PEM files: SSL on with this certificate (connections without SSL still allowed). */
  tls?: { certFile: string; keyFile: string };
  /** The port its first attempt takes (a test's): by default, one found free a moment before. */
  firstPort?: number;
}): Promise<EmbeddedPostgresServer>;
/** The rows of one statement, on a connection of its own to `url`. */
export function sql<Row = Record<string, unknown>>(url: string, text: string, values?: unknown[]): Promise<Row[]>;
export function createDatabase(
  serverUrl: string,
  prefix?: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }>;
