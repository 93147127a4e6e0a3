-- sqlite.sql: the sqlite3 case of tests/e2e/test_real_programs.py.
-- Builds a 200,000-row table with a recursive CTE, indexes it, and asks
-- questions whose answers are compared with a run without the runtime.
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t(id, grp, name, val)
  SELECT i, i % 97, printf('item-%06d', (i * 7919) % 200000), (i * 31 % 1000) / 10.0 FROM n;
CREATE INDEX t_grp ON t(grp, val);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(grp), round(avg(val), 4) FROM t;
SELECT grp, count(*), round(sum(val), 2) FROM t GROUP BY grp ORDER BY sum(val) DESC LIMIT 5;
SELECT name FROM t WHERE name > 'item-19990' ORDER BY name LIMIT 3;
SELECT count(DISTINCT name) FROM t;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 97 AND a.grp = b.grp
  WHERE a.val > 90 GROUP BY a.grp ORDER BY a.grp LIMIT 3;
UPDATE t SET val = val * 2 WHERE grp = 3;
DELETE FROM t WHERE grp = 5;
SELECT count(*), round(sum(val), 2) FROM t;
