-- What the loaders left in the database, one `NAME VALUE` line each (psql -tA).
SELECT 'genes ' || count(*) FROM genes;
SELECT 'papers ' || count(*) FROM papers;
SELECT 'mentions ' || count(*) FROM mentions;
-- Genes mentioned in the same paper: the edges of the graph.
SELECT 'co-mentioned ' || string_agg(a.symbol || '-' || b.symbol, ' ' ORDER BY a.symbol, b.symbol)
FROM mentions a JOIN mentions b ON a.pmid = b.pmid AND a.symbol < b.symbol;
