-- Sample data for production on the emulator: article 000's words and 10,000 customers
-- with realistic fake personal data, generated set-based (deterministic: no random()).
INSERT INTO public.words (word) VALUES ('apple'), ('boat'), ('car'), ('bike');

INSERT INTO public.customers (email, full_name, phone, created_at)
SELECT lower(f.name) || '.' || regexp_replace(lower(l.name), '[^a-z]', '', 'g') || '.' || g.n || '@'
           || (ARRAY['example.com', 'example.org', 'example.net', 'mail.example'])[1 + g.n % 4],
       f.name || ' ' || l.name,
       '+31 6 ' || lpad(((g.n * 7919) % 100000000)::text, 8, '0'),
       timestamptz '2020-01-01 00:00:00+00' + (g.n * interval '97 minutes')
FROM generate_series(1, 10000) AS g(n)
CROSS JOIN LATERAL (
    SELECT (ARRAY['Emma', 'Liam', 'Olivia', 'Noah', 'Ava', 'Lucas', 'Mia', 'Daan', 'Sophie', 'Sem',
                  'Julia', 'Finn', 'Tess', 'Levi', 'Anna', 'Milan', 'Sara', 'Jesse', 'Eva', 'Thomas',
                  'Fleur', 'Ruben', 'Lotte', 'Bram', 'Iris', 'Lars', 'Nora', 'Max', 'Zoe', 'Adam',
                  'Hannah', 'Omar', 'Yara', 'Mohammed', 'Lina', 'Jan', 'Maria', 'Pieter', 'Fatima', 'David'])
           [1 + (g.n * 31) % 40] AS name
) AS f
CROSS JOIN LATERAL (
    SELECT (ARRAY['de Jong', 'Jansen', 'de Vries', 'van den Berg', 'van Dijk', 'Bakker', 'Janssen',
                  'Visser', 'Smit', 'Meijer', 'de Boer', 'Mulder', 'de Groot', 'Bos', 'Vos', 'Peters',
                  'Hendriks', 'van Leeuwen', 'Dekker', 'Brouwer', 'de Wit', 'Dijkstra', 'Smits',
                  'de Graaf', 'van der Meer', 'Kok', 'Jacobs', 'de Haan', 'Vermeulen', 'van den Heuvel',
                  'Smith', 'Garcia', 'Muller', 'Rossi', 'Kowalski', 'Yilmaz', 'El Amrani', 'Nguyen',
                  'Silva', 'Novak'])
           [1 + (g.n * 17) % 40] AS name
) AS l;

-- 20,000 orders, two per customer, each with a copy of its customer's e-mail address.
INSERT INTO public.orders (customer_id, customer_email, shipping_address, ordered_at, total_cents)
SELECT c.id, c.email,
       (1 + (c.id * 13 + k) % 240) || ' ' || (ARRAY['Keizersgracht', 'Herengracht', 'Coolsingel',
           'Oudegracht', 'Grote Markt', 'Stationsweg', 'Dorpsstraat', 'Kerkstraat'])[1 + (c.id + k) % 8]
           || ', ' || (1000 + (c.id * 37) % 9000) || ' AB ' || (ARRAY['Amsterdam', 'Rotterdam',
           'Utrecht', 'Den Haag', 'Eindhoven', 'Groningen'])[1 + c.id % 6],
       c.created_at + k * interval '3 days',
       (c.id * 131 + k * 977) % 50000
FROM public.customers AS c CROSS JOIN generate_series(1, 2) AS k;

INSERT INTO public.app_settings (key, value) VALUES
    ('payment_provider_url', 'https://payments.example.com/live'),
    ('mail_relay', 'smtp.mail.example:587');
