-- Loads the papers and which genes each mentions (mentions needs the genes: load-genes ran).
\copy papers (pmid, title) FROM '/data/papers.csv' WITH (FORMAT csv, HEADER true)
\copy mentions (pmid, symbol) FROM '/data/mentions.csv' WITH (FORMAT csv, HEADER true)
