-- Receipts and credit notes: a document per successful payment and per refund, numbered
-- without gaps per issuer (the legal entity that sells: the platform, as merchant of
-- record). The payment keeps what was bought, for the document's lines.

ALTER TABLE payments
    ADD COLUMN seats        integer,
    ADD COLUMN unit_amount  bigint,
    ADD COLUMN course_id    uuid,
    ADD COLUMN pricing      text,
    ADD COLUMN billing_interval text;

-- The last number each issuer gave (a platform table: numbering spans tenants). Taken
-- under the row's lock in the issuing transaction, so a rollback leaves no gap.
CREATE TABLE document_sequences (
    issuer  text PRIMARY KEY,
    last    bigint NOT NULL
);

CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('receipt', 'credit_note')),
    issuer       text NOT NULL,
    issuer_name  text NOT NULL,
    seq          bigint NOT NULL,
    number       text NOT NULL,
    payment_id   uuid NOT NULL REFERENCES payments (id),
    refund_id    uuid,
    order_id     uuid NOT NULL,
    amount       bigint NOT NULL CHECK (amount > 0),
    currency     text NOT NULL,
    lines        jsonb NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, seq)
);
CREATE UNIQUE INDEX documents_one_receipt ON documents (payment_id) WHERE kind = 'receipt';
CREATE UNIQUE INDEX documents_one_credit_note ON documents (refund_id) WHERE kind = 'credit_note';
CREATE INDEX documents_page ON documents (issued_at DESC, id DESC);
SELECT enable_tenant_rls('documents');
