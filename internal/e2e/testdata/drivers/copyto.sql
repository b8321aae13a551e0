-- COPY ... TO STDOUT in every format and option; TestDrivers/copyto-as-pg15
-- runs these through psql against Cairn and PostgreSQL 15 over the same
-- rows (copyto_rows.sql) and compares the output byte for byte.
COPY (SELECT * FROM cx ORDER BY i) TO STDOUT;
COPY (SELECT * FROM cx ORDER BY i) TO STDOUT WITH (FORMAT csv, HEADER);
COPY (SELECT i, s FROM cx ORDER BY i) TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NULL', QUOTE '''', ESCAPE '\');
COPY (SELECT i, s FROM cx ORDER BY i) TO STDOUT WITH (FORMAT text, DELIMITER '|', NULL '', HEADER);
COPY (SELECT s FROM cx ORDER BY i) TO STDOUT WITH (FORMAT csv);
COPY (SELECT i, s, f, b, ts, n, d FROM cx ORDER BY i) TO STDOUT WITH (FORMAT binary);
COPY (SELECT i, s FROM cx ORDER BY i) TO STDOUT WITH CSV HEADER DELIMITER AS '	';
