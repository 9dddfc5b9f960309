//! identity's use-cases. They authorize, validate, call the store and emit events; they
//! know nothing of HTTP.

pub mod api_keys;
pub mod bootstrap;
pub mod session;
pub mod signing_keys;
pub mod users;

use mirai_kit::AppError;

/// A password policy every new password passes.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < 12 {
        return Err(AppError::invalid("password", "must be at least 12 characters"));
    }
    if n > 256 {
        return Err(AppError::invalid("password", "must be at most 256 characters"));
    }
    Ok(())
}

/// A syntactically plausible email address (the mail itself proves the rest).
pub fn validate_email(email: &str) -> Result<(), AppError> {
    mirai_kit::Email::parse("email", email).map(|_| ())
}
