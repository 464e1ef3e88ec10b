-- Run in acceptance after every restore from production, after the masking rules, in one
-- transaction: what the rules do not do.  Production's live endpoints must not be called from
-- acceptance, so the settings that name them point at sandboxes instead.
UPDATE public.app_settings SET value = 'https://payments.example.com/sandbox'
WHERE key = 'payment_provider_url';
UPDATE public.app_settings SET value = 'localhost:1025' WHERE key = 'mail_relay';
