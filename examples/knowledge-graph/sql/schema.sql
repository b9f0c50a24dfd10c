-- The knowledge graph's tables, made anew by the first loader (load-genes) so that the
-- pipeline can run again on the same database volume.
SET client_min_messages = warning;  -- no NOTICE for tables that are not there yet
DROP TABLE IF EXISTS gene_links, mentions, papers, genes;

CREATE TABLE genes (
    symbol text PRIMARY KEY,
    name   text NOT NULL
);

CREATE TABLE papers (
    pmid  integer PRIMARY KEY,
    title text NOT NULL
);

CREATE TABLE mentions (
    pmid   integer REFERENCES papers,
    symbol text REFERENCES genes,
    PRIMARY KEY (pmid, symbol)
);
