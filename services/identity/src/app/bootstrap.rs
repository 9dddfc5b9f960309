//! `mirai admin bootstrap`: creates the platform-admin account once and returns its
//! credential once; later runs return None.

use mirai_events::EventMeta;

use crate::{AppState, app::users::NewUser, crypto, store::users as store};

pub struct AdminCredential {
    pub email: String,
    pub password: String,
}

pub async fn bootstrap_platform_admin(state: &AppState, email: &str) -> anyhow::Result<Option<AdminCredential>> {
    let password = crypto::random_token(18);
    let hash = super::users::hash(state, &password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = state.ctx.db.platform_tx().await?;
    // Serialize concurrent bootstraps: the check and the insert below are one decision,
    // and the transaction-scoped lock is held until that decision commits.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity-bootstrap'))").execute(&mut *tx).await?;
    let exists = store::platform_admin_exists(&mut tx).await?;
    let result = if exists {
        None
    } else {
        let input = NewUser { email: email.to_owned(), password, display_name: Some("Platform admin".into()) };
        let meta = EventMeta { actor: Some("system:bootstrap".into()), ..Default::default() };
        super::users::insert_in_txn(state, &mut tx, &meta, "system:bootstrap", &input, &hash, true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Some(AdminCredential { email: input.email, password: input.password })
    };
    tx.commit().await?;
    Ok(result)
}

/// For seeding (the demo): makes sure `email` exists with `password`, creating it or
/// resetting its password. Returns the user id.
pub async fn seed_user(
    state: &AppState,
    email: &str,
    password: &str,
    platform_admin: bool,
) -> anyhow::Result<uuid::Uuid> {
    let settings = state.settings.clone();
    let pw = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || crypto::hash_password(&settings, &pw)).await?;
    let mut tx = state.ctx.db.platform_tx().await?;
    if let Some(u) = store::user_get_by_email(&mut tx, email).await? {
        sqlx::query("UPDATE users SET password_hash = $2, is_platform_admin = $3, updated_at = now() WHERE id = $1")
            .bind(u.id)
            .bind(&hash)
            .bind(platform_admin)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(u.id.into());
    }
    tx.commit().await?;
    let input = NewUser { email: email.to_owned(), password: password.to_owned(), display_name: None };
    let meta = EventMeta { actor: Some("system:demo".into()), ..Default::default() };
    let row = super::users::insert(state, &meta, "system:demo", &input, platform_admin)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(row.id.into())
}
