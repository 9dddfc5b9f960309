-- Data-subject requests (GDPR Art. 17 erasure): tenant records the request, announces it
-- (`tenant.data_subject.erasure_requested.v1`), and tracks one step per service that
-- holds personal data until each has reported `<service>.data_subject.erased.v1`.
-- The subject's identifiers are kept only while the request is open; on completion they
-- are redacted and only their digest remains (proof of what was erased, not of whom).

CREATE TABLE data_subject_requests (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('erasure')),
    subject        jsonb NOT NULL,
    subject_digest text NOT NULL,
    reason         text,
    status         text NOT NULL CHECK (status IN ('pending', 'completed')),
    requested_by   text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX data_subject_requests_by_created ON data_subject_requests (tenant_id, created_at DESC, id DESC);

CREATE TABLE data_subject_request_steps (
    tenant_id    uuid NOT NULL,
    request_id   uuid NOT NULL,
    service      text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'done')),
    outcome      jsonb,
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, request_id, service),
    FOREIGN KEY (tenant_id, request_id) REFERENCES data_subject_requests (tenant_id, id)
);

SELECT enable_tenant_rls('data_subject_requests');
SELECT enable_tenant_rls('data_subject_request_steps');
