-- Run once by compose's cairn-init service (psql, as cairn over loopback).
-- psql variables: s3_endpoint, s3_bucket, s3_access, s3_secret,
-- app_password. Running it again changes nothing.

-- The disk scheduled views checkpoint to (compose: versitygw's bucket cairn).
-- CREATE DISK writes, reads back and deletes a probe object first, so a
-- wrong key or a missing bucket fails here, not at the first checkpoint.
CREATE DISK IF NOT EXISTS objects (type = 's3', endpoint = :'s3_endpoint', bucket = :'s3_bucket', region = 'us-east-1',
                                   access_key_id = :'s3_access', secret_access_key = :'s3_secret');

-- A user for clients outside the containers (they are not loopback
-- clients, so they log in with a password).
SELECT count(*) = 0 AS need_app FROM pg_roles WHERE rolname = 'app' \gset
\if :need_app
CREATE USER app WITH PASSWORD :'app_password';
GRANT admin TO app;
\endif
SHOW DISKS;
