//! identity's SQL, one module per table; functions are named `<resource>_<verb>`.

pub mod api_keys;
pub mod memberships;
pub mod refresh_tokens;
pub mod signing_keys;
pub mod throttle;
pub mod users;
