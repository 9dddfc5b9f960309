-- Email and in-app notifications. `people` is the address book: the address identity
-- signed into each member's own session, recorded when they use notification's API
-- (identity's stream takes no durable consumers, ADR 0006; a user belongs to no one
-- tenant, so the row has no tenant and no RLS). `tenant_names` is what a message calls a
-- tenant. Per tenant: each member's
-- preferences (locale, and per category whether to email and whether to show in-app),
-- the in-app inbox, and the emails with their delivery state.

CREATE TABLE people (
    user_id      uuid PRIMARY KEY,
    email        text NOT NULL,
    display_name text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_names (
    tenant_id uuid PRIMARY KEY,
    name      text NOT NULL
);
SELECT enable_tenant_rls('tenant_names');

CREATE TABLE preferences (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    locale     text NOT NULL DEFAULT 'en',
    -- {"<category>": {"email": bool, "in_app": bool}}; a category not named is on.
    categories jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
SELECT enable_tenant_rls('preferences');

CREATE TABLE inbox_items (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    category   text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL,
    link       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz
);
CREATE INDEX inbox_items_by_user ON inbox_items (tenant_id, user_id, created_at DESC, id DESC);
SELECT enable_tenant_rls('inbox_items');

CREATE TABLE emails (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    category   text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text NOT NULL,
    status     text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    to_address text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX emails_by_user ON emails (tenant_id, user_id, created_at DESC);
SELECT enable_tenant_rls('emails');
