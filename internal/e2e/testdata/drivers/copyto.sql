-- COPY ... TO STDOUT in every format and option PostgreSQL supports; the
-- expected output, copyto_pg15.out, is what PostgreSQL 15.18 printed for
-- these statements over the same rows (copyto_rows.sql into CREATE TABLE cx
-- (i int, s text, f float8, b bool, ts timestamptz, j jsonb, n numeric,
-- d date)), with psql -X -q and PGTZ=UTC.
COPY (SELECT * FROM cx ORDER BY i) TO STDOUT;
COPY (SELECT * FROM cx ORDER BY i) TO STDOUT WITH (FORMAT csv, HEADER);
COPY (SELECT i, s FROM cx ORDER BY i) TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NULL', QUOTE '''', ESCAPE '\');
COPY (SELECT i, s FROM cx ORDER BY i) TO STDOUT WITH (FORMAT text, DELIMITER '|', NULL '', HEADER);
COPY (SELECT s FROM cx ORDER BY i) TO STDOUT WITH (FORMAT csv);
COPY (SELECT i, s, f, b, ts, n, d FROM cx ORDER BY i) TO STDOUT WITH (FORMAT binary);
COPY (SELECT i, s FROM cx ORDER BY i) TO STDOUT WITH CSV HEADER DELIMITER AS '	';
