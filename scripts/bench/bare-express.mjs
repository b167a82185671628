// The ingest baseline: Express with the same raw body parser as /collect, parsing the JSON and storing nothing.
import express from 'express';

const app = express();
app.post('/collect', express.raw({ type: () => true, limit: 64 * 1024 }), (req, res) => {
  const body = JSON.parse(req.body.toString('utf8'));
  res.status(200).json({ stored: body.events.length, duplicates: 0 });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
