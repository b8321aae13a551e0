// node-postgres over TLS to a secure node: verify-full against the
// cluster CA, the client certificate of cairn; prints the answer and
// whether the socket is encrypted. With "plain" as the 4th argument it
// connects without TLS and prints the server's error instead.
const { Client } = require('pg');
const fs = require('fs');
const [host, port, dir, mode] = process.argv.slice(2);

(async () => {
  const ssl = mode === 'plain' ? false : {
    ca: fs.readFileSync(dir + '/ca.crt'),
    cert: fs.readFileSync(dir + '/client.cairn.crt'),
    key: fs.readFileSync(dir + '/client.cairn.key'),
    rejectUnauthorized: true,
  };
  const client = new Client({ host, port: Number(port), user: 'cairn', database: 'cairn', ssl });
  try {
    await client.connect();
  } catch (e) {
    console.log('error', e.code, e.message);
    return;
  }
  const r = await client.query('SELECT 1 + 1 AS two');
  console.log('node', r.rows[0].two, 'encrypted', client.connection.stream.encrypted === true);
  await client.end();
})().catch((e) => { console.error(e); process.exit(1); });
