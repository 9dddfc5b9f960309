-- marketplace: listings of published course versions, orders (a saga with billing) and
-- the licenses they grant.

-- The course versions a provider may list: projected from authoring (private courses
-- are not listable; a retired course's listings retire with it).
CREATE TABLE course_versions (
    course_id  uuid NOT NULL,
    version    integer NOT NULL,
    tenant_id  uuid NOT NULL,
    title      text NOT NULL,
    visibility text NOT NULL,
    retired    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (course_id, version)
);
SELECT enable_tenant_rls('course_versions');

-- The platform's share of each provider's sales (basis points), set by a platform admin.
CREATE TABLE providers (
    tenant_id          uuid PRIMARY KEY,
    revenue_share_bps  integer NOT NULL CHECK (revenue_share_bps BETWEEN 0 AND 10000),
    updated_by         text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
SELECT enable_tenant_rls('providers');

CREATE TABLE listings (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    course_id          uuid NOT NULL,
    version            integer NOT NULL,
    title              text NOT NULL,
    description        text NOT NULL,
    pricing            text NOT NULL CHECK (pricing IN ('free', 'one_time', 'subscription')),
    interval           text CHECK (interval IN ('month', 'year')),
    prices             jsonb NOT NULL,
    seat_packs         integer[] NOT NULL,
    visibility         text NOT NULL CHECK (visibility IN ('public', 'private')),
    visible_to         uuid[] NOT NULL,
    revenue_share_bps  integer NOT NULL CHECK (revenue_share_bps BETWEEN 0 AND 10000),
    status             text NOT NULL CHECK (status IN ('active', 'retired')),
    revision           integer NOT NULL,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((pricing = 'subscription') = (interval IS NOT NULL))
);
CREATE INDEX listings_by_created ON listings (created_at DESC, id DESC);
CREATE INDEX listings_by_course ON listings (course_id);
SELECT enable_tenant_rls('listings');
-- Shoppers (every other tenant) read the active public listings and the private ones
-- naming them; only the provider writes (the tenant policy).
CREATE POLICY shopper_read ON listings FOR SELECT USING (
    status = 'active'
    AND (visibility = 'public' OR NULLIF(current_setting('app.tenant_id', true), '')::uuid = ANY (visible_to))
);

CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    listing_id          uuid NOT NULL,
    provider_tenant_id  uuid NOT NULL,
    course_id           uuid NOT NULL,
    version             integer NOT NULL,
    title               text NOT NULL,
    seats               integer NOT NULL CHECK (seats > 0),
    currency            text NOT NULL,
    unit_amount         bigint NOT NULL CHECK (unit_amount >= 0),
    amount              bigint NOT NULL CHECK (amount >= 0),
    pricing             text NOT NULL,
    interval            text,
    revenue_share_bps   integer NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending_payment', 'completed', 'failed', 'canceled')),
    failure_reason      text,
    payment_id          uuid,
    license_id          uuid,
    refunded_seats      integer NOT NULL DEFAULT 0,
    placed_by           text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_by_provider ON orders (provider_tenant_id, created_at DESC, id DESC);
SELECT enable_tenant_rls('orders');
-- A provider reads the orders of its listings (its sales); only the buyer's tenant writes.
CREATE POLICY provider_read ON orders FOR SELECT USING (
    provider_tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);

-- What a tenant owns: the read model the catalog and enrollment learn from events.
CREATE TABLE licenses (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    order_id            uuid NOT NULL UNIQUE,
    listing_id          uuid NOT NULL,
    provider_tenant_id  uuid NOT NULL,
    course_id           uuid NOT NULL,
    version             integer NOT NULL,
    title               text NOT NULL,
    seats               integer NOT NULL CHECK (seats >= 0),
    -- Seats enrolled against it (from enrollment's events, once it lands).
    seats_in_use        integer NOT NULL DEFAULT 0,
    status              text NOT NULL CHECK (status IN ('active', 'revoked')),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX licenses_by_created ON licenses (created_at DESC, id DESC);
SELECT enable_tenant_rls('licenses');
