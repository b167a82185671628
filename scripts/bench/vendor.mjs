// A vendor stand-in in its own process (so it does not share the load generator's event loop):
// answers 202 after DELAY_MS and prints its URL.
import { createServer } from 'node:http';

const delay = Number(process.env.DELAY_MS ?? 0);
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () =>
    setTimeout(() => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{}');
    }, delay),
  );
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
