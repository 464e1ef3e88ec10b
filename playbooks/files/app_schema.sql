-- Schema of the sample application database "app" (version 1).
-- Applied by the dbops.aurora.schema role inside one transaction: no BEGIN/COMMIT here.

-- Article 000's table.
CREATE TABLE IF NOT EXISTS public.words (
    id serial PRIMARY KEY,
    word varchar(100)
);

-- Personal data: what the acceptance refresh must mask.
CREATE TABLE IF NOT EXISTS public.customers (
    id bigserial PRIMARY KEY,
    email varchar(254) NOT NULL UNIQUE,
    full_name varchar(200) NOT NULL,
    phone varchar(32),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS customers_created_at_idx ON public.customers (created_at);
