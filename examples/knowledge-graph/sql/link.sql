-- Links genes mentioned in the same paper, weighted by the number of papers.
--
-- Broken on purpose: `b.symbl` is a typo for `b.symbol`. psql stops at the error
-- (ON_ERROR_STOP) and exits 3, so `load-links` fails and `publish-links`, which needs its
-- table, is cancelled. Fix the typo and run the pipeline again to see both succeed.
CREATE TABLE gene_links AS
SELECT a.symbol AS source, b.symbol AS target, count(*) AS papers
FROM mentions a JOIN mentions b ON a.pmid = b.pmid AND a.symbol < b.symbol
GROUP BY a.symbol, b.symbl;
