"""The psycopg2 part of TestDrivers (Debian's python3-psycopg2, run with
/usr/bin/python3): the default autocommit=False with DDL, execute,
executemany, copy_expert FROM and TO, named server-side cursors fetched in
chunks. Prints what it saw; the Go test compares."""
import io
import sys

import psycopg2

conn = psycopg2.connect(sys.argv[1])
assert conn.autocommit is False
cur = conn.cursor()
# DDL inside the transaction psycopg2 opened; an INSERT in the same block
# sees the new stream.
cur.execute("CREATE STREAM py_ev (dev int, name text, v float8)")
cur.executemany("INSERT INTO py_ev (dev, name, v) VALUES (%s, %s, %s)",
                [(i % 3, "n%d" % i, i * 0.5) for i in range(10)])
conn.commit()
print("notices", [n.strip() for n in conn.notices])

cur.execute("SELECT count(*), sum(v) FROM py_ev WHERE dev = %s", (1,))
print("dev 1", cur.fetchone())

cur.copy_expert("COPY py_ev (dev, name, v) FROM STDIN WITH (FORMAT csv)",
                io.StringIO('7,"with, comma",1.25\n7,,\n'))
conn.commit()
out = io.StringIO()
cur.copy_expert("COPY (SELECT dev, name, v FROM py_ev WHERE dev = 7 ORDER BY v) TO STDOUT WITH (FORMAT csv, HEADER)", out)
print("copy to csv", repr(out.getvalue()))
out = io.StringIO()
cur.copy_expert("COPY py_ev (name) TO STDOUT", out)
print("copy to text lines", len(out.getvalue().splitlines()))
conn.commit()

# A named cursor: DECLARE in the transaction, FETCH FORWARD itersize.
named = conn.cursor("big")
named.itersize = 4
named.execute("SELECT name FROM py_ev WHERE dev < 7 ORDER BY v")
print("named", [r[0] for r in named])
named.close()
named = conn.cursor("chunks")
named.execute("SELECT v FROM py_ev WHERE dev < 7 ORDER BY v")
print("fetchmany", named.fetchmany(3), named.fetchmany(3))
named.close()
conn.commit()

# A WITH HOLD cursor outlives the transaction that declared it.
held = conn.cursor("held", withhold=True)
held.execute("SELECT name FROM py_ev WHERE dev = 2 ORDER BY v")
conn.commit()
print("held", held.fetchall())
held.close()

# ROLLBACK does not undo DDL (README): the stream stays.
cur.execute("CREATE STREAM py_gone (a int)")
conn.rollback()
cur.execute("SELECT count(*) FROM py_gone")
print("after rollback", cur.fetchone())
conn.commit()

try:
    cur.execute("FETCH 1 FROM nosuch")
except psycopg2.Error as e:
    print("error", e.pgcode, e.pgerror.splitlines()[0])
conn.rollback()
conn.close()
