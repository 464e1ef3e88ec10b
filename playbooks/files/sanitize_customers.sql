-- Mask personal data in acceptance after every restore from production, set-based: one
-- UPDATE per table, in the one transaction the refresh runs each file in.  The values keep
-- their shape (unique e-mail, a name, a phone number) so the application still works, and
-- they are derived from the id only, so nothing of the original survives.
UPDATE public.customers
SET email = 'customer' || id || '@masked.invalid',
    full_name = 'Customer ' || id,
    phone = CASE WHEN phone IS NULL THEN NULL
                 ELSE '+00 000 ' || lpad((id % 1000000)::text, 6, '0') END;
