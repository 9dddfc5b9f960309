//! identity's black-box tests: the service on port 0 with its own database and NATS prefix.

mod api_keys;
mod bad_input;
mod helpers;
mod http_stack;
mod idempotency;
mod jwt;
mod session;
