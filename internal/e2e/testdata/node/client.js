// The node-postgres part of TestDrivers: parameterized queries (the
// extended protocol), pg-cursor reading in chunks (Execute with a row
// limit, PortalSuspended), and a transaction with DDL. Prints what it
// saw; the Go test compares.
const { Client } = require('pg');
const Cursor = require('pg-cursor');

async function main() {
  const client = new Client({ connectionString: process.argv[2] });
  await client.connect();
  const notices = [];
  client.on('notice', (n) => notices.push(n.message));

  await client.query('BEGIN');
  await client.query('CREATE STREAM node_ev (dev int, name text, ts timestamptz)');
  for (let i = 0; i < 9; i++) {
    await client.query('INSERT INTO node_ev (dev, name, ts) VALUES ($1, $2, $3)',
      [i % 3, 'n' + i, new Date(Date.UTC(2024, 0, 1, 10, i))]);
  }
  await client.query('COMMIT');
  console.log('notices', JSON.stringify(notices));

  let r = await client.query('SELECT dev, count(*)::int AS n FROM node_ev WHERE name <> $1 GROUP BY dev ORDER BY dev', ['n0']);
  console.log('grouped', JSON.stringify(r.rows));
  r = await client.query({ text: 'SELECT name, ts FROM node_ev WHERE ts >= $1 ORDER BY ts LIMIT 2', values: [new Date(Date.UTC(2024, 0, 1, 10, 7))] });
  console.log('since', JSON.stringify(r.rows));

  const cursor = client.query(new Cursor('SELECT name FROM node_ev WHERE dev <> $1 ORDER BY ts', [2]));
  const chunks = [];
  for (;;) {
    const rows = await cursor.read(4);
    if (rows.length === 0) break;
    chunks.push(rows.map((x) => x.name).join(','));
  }
  await cursor.close();
  console.log('cursor chunks', JSON.stringify(chunks));

  try {
    await client.query('SELECT * FROM node_nosuch WHERE a = $1', [1]);
  } catch (e) {
    console.log('error', e.code, e.message);
  }
  r = await client.query('SELECT count(*)::int AS n FROM node_ev');
  console.log('still serving', r.rows[0].n);
  await client.end();
}

main().catch((e) => { console.error(e); process.exit(1); });
