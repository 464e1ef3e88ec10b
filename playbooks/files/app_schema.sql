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

-- Orders keep a copy of the customer's e-mail address (joined on it by reporting) and a
-- shipping address: personal data in a second table, masked consistently with customers.
CREATE TABLE IF NOT EXISTS public.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES public.customers (id),
    customer_email varchar(254) NOT NULL,
    shipping_address text NOT NULL,
    ordered_at timestamptz NOT NULL,
    total_cents integer NOT NULL CHECK (total_cents >= 0)
);
CREATE INDEX IF NOT EXISTS orders_customer_email_idx ON public.orders (customer_email);

-- Settings that differ per environment (not personal): acceptance's SQL file points them at
-- sandboxes after every restore.
CREATE TABLE IF NOT EXISTS public.app_settings (
    key text PRIMARY KEY,
    value text NOT NULL
);
