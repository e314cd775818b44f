-- PostgreSQL for the Daiban hub. Run as the postgres superuser:
--   sudo -u postgres psql -v password="'a-long-random-password'" -f deploy/hub/postgres-setup.sql
-- Then put DATABASE_URL=postgresql://daiban:<password>@127.0.0.1:5432/daiban in /etc/daiban/hub.env
-- and run `daiban hub migrate` (the hub creates and upgrades its own tables).
CREATE ROLE daiban LOGIN PASSWORD :password;
CREATE DATABASE daiban OWNER daiban ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE daiban FROM PUBLIC;
\connect daiban
ALTER SCHEMA public OWNER TO daiban;
