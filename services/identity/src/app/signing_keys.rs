//! Signing keys: one signs at a time; a rotated-in key is published (JWKS and the
//! `identity.signing_key.published.v1` event) before it signs, and a retired key keeps
//! verifying until the last token it signed has expired.

use chrono::{Duration as ChronoDuration, Utc};
use mirai_contracts::events::identity::{SigningKeyPublished, SigningKeyRetired};
use mirai_events::EventMeta;
use mirai_kit::{AppError, Principal, auth::jwt};
use p256::{
    ecdsa::SigningKey,
    elliptic_curve::Generate,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};

use crate::{AppState, store::signing_keys as store};

/// Makes sure a key can sign: at first start, creates and publishes one.
pub async fn ensure_active(state: &AppState) -> anyhow::Result<()> {
    let mut tx = state.ctx.db.platform_tx().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity-signing-key'))").execute(&mut *tx).await?;
    let meta = EventMeta { actor: Some("system:identity".into()), ..Default::default() };
    if store::signing_key_list_unretired(&mut tx).await?.is_empty() {
        create_in_txn(state, &mut tx, &meta, Utc::now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    } else {
        // Re-announce the keys that sign, signed: a key store that missed or refused an
        // earlier announcement (one from before signed key events, say) learns them
        // again; one that has them ignores the same revision. Identity's stream keeps one
        // message per key, so this costs nothing over time.
        let events = store::signing_key_list_unretired_public(&mut tx).await?.into_iter().map(|k| {
            SigningKeyPublished { kid: k.kid, jwk: k.public_jwk.0, not_before: k.not_before, revision: 1 }.into()
        });
        state.ctx.emit(&mut tx, &meta, events).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tx.commit().await?;
    Ok(())
}

async fn create_in_txn(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    meta: &EventMeta,
    not_before: chrono::DateTime<Utc>,
) -> Result<String, AppError> {
    let key = SigningKey::generate();
    let kid = format!("k-{}", uuid::Uuid::now_v7().simple());
    let jwk = jwt::jwk_from_key(&kid, key.verifying_key());
    let pkcs8 = key.to_pkcs8_der().map_err(|e| AppError::Internal(anyhow::anyhow!("pkcs8: {e}")))?;
    // The private key is stored only sealed under identity's KEK, bound to its kid.
    let (kek_id, sealed) = state.kms.seal(pkcs8.as_bytes(), kid.as_bytes()).map_err(AppError::Internal)?;
    store::signing_key_insert(tx, &kid, &kek_id, &sealed, &jwk, not_before).await?;
    let event = SigningKeyPublished { kid: kid.clone(), jwk, not_before, revision: 1 };
    state.ctx.emit(tx, meta, [event.into()]).await?;
    Ok(kid)
}

/// Rotates: publishes a new key now that signs after the publish delay; every older key
/// retires then and verifies for one access-token lifetime more.
#[tracing::instrument(skip_all, fields(kid = tracing::field::Empty))]
pub async fn rotate(state: &AppState, principal: &Principal) -> Result<String, AppError> {
    principal.require_platform_admin()?;
    let mut tx = state.ctx.db.platform_tx().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity-signing-key'))").execute(&mut *tx).await?;
    let meta = principal.event_meta();
    let switch_at = Utc::now() + ChronoDuration::from_std(state.settings.key_publish_delay).unwrap_or_default();
    let old = store::signing_key_list_unretired(&mut tx).await?;
    let kid = create_in_txn(state, &mut tx, &meta, switch_at).await?;
    tracing::Span::current().record("kid", kid.as_str());
    let verify_until = switch_at + ChronoDuration::from_std(state.settings.access_ttl).unwrap_or_default();
    for k in old {
        let revision = store::signing_key_retire(&mut tx, &k.kid, switch_at, verify_until).await?;
        let event = SigningKeyRetired { kid: k.kid, retired_at: switch_at, verify_until, revision };
        state.ctx.emit(&mut tx, &meta, [event.into()]).await?;
    }
    tx.commit().await?;
    Ok(kid)
}

/// Fails start-up, saying how to recover, when the signing keys in the database were
/// sealed under another KEK than the configured one (instead of a 500 at every login).
pub async fn check_kek(state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.ctx.db.platform_tx().await?;
    for row in store::signing_key_list_unretired(&mut conn).await? {
        if let Err(e) = state.kms.open(&row.kek_id, &row.sealed_key, row.kid.as_bytes()) {
            return Err(mirai_kit::kms::kek_mismatch(crate::NAME, "identity's private signing keys", &row.kek_id, &e));
        }
    }
    Ok(())
}

/// The key that signs now.
pub async fn current(state: &AppState) -> Result<(String, SigningKey), AppError> {
    let mut conn = state.ctx.db.platform_tx().await?;
    let row = store::signing_key_current(&mut conn)
        .await?
        .ok_or_else(|| AppError::Unavailable("no signing key is active".into()))?;
    let pkcs8 = state.kms.open(&row.kek_id, &row.sealed_key, row.kid.as_bytes()).map_err(AppError::Internal)?;
    let key = SigningKey::from_pkcs8_der(&pkcs8)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored key {}: {e}", row.kid)))?;
    Ok((row.kid, key))
}

/// The public keys whose tokens may still verify.
pub async fn jwks(state: &AppState) -> Result<Vec<jwt::Jwk>, AppError> {
    let mut conn = state.ctx.db.platform_tx().await?;
    Ok(store::signing_key_list_verifiable(&mut conn).await?.into_iter().map(|r| r.public_jwk.0).collect())
}
