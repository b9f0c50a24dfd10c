-- Loads the genes that `extract` wrote to the shared volume.
\copy genes (symbol, name) FROM '/data/genes.csv' WITH (FORMAT csv, HEADER true)
