INSERT INTO cx VALUES (1, 'plain', 1.5, true, '2024-01-02 03:04:05.123456+00', '{"a": [1, "x,y"]}', 12.50, '2024-02-29');
INSERT INTO cx VALUES (2, E'tab\there\nnew "quoted" back\\slash,comma', -0.1, false, '1999-12-31 23:59:59+00', '"str"', -0.0001, '1970-01-01');
INSERT INTO cx VALUES (3, '', NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO cx VALUES (4, '\.', 1e300, true, '2024-06-01 00:00:00+00', 'null', 1e20, '2000-01-01');
INSERT INTO cx VALUES (5, 'NULL', 'NaN', false, '2024-06-01 00:00:00+00', '[]', 0, '2000-01-01');
