//! Payloads tenant publishes: tenants, memberships, org units, invitations, settings,
//! secrets, feature flags and the data-subject (GDPR erasure) choreography.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    event::event,
    ids::{DataSubjectRequestId, GroupId, InvitationId, MembershipId, OrgUnitId, TenantId, UserId},
};

/// Every participating service has erased the person's data: the audit record of the
/// erasure (identifiers redacted, their digest kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSubjectErasureCompleted {
    /// The tenant the person's data was erased in.
    pub tenant_id: TenantId,
    /// The data-subject request.
    pub request_id: DataSubjectRequestId,
    /// Lower-case hex SHA-256 of the (redacted) identifiers.
    pub subject_digest: String,
    /// Who asked for the erasure.
    pub requested_by: String,
    /// When the last step answered.
    pub completed_at: DateTime<Utc>,
    /// What each participating service reported.
    pub steps: Vec<ErasureStep>,
}

event!(
    DataSubjectErasureCompleted,
    "tenant.data_subject.erasure_completed.v1",
    aggregate = request_id,
    tenant = tenant_id
);

/// One service's part of an erasure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureStep {
    /// The service, e.g. `lrs`.
    pub service: String,
    /// What the service reported (its `<service>.data_subject.erased.v1` outcome); `null`
    /// when it reported nothing.
    pub outcome: Option<Map<String, Value>>,
}

/// An org admin asked for a person's data in the tenant to be erased. Carries the
/// person's identifiers; every service holding personal data erases or anonymizes it and
/// answers `<service>.data_subject.erased.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSubjectErasureRequested {
    /// The tenant the person's data is erased in.
    pub tenant_id: TenantId,
    /// The data-subject request.
    pub request_id: DataSubjectRequestId,
    /// Who the request is about.
    pub subject: DataSubject,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
}

event!(
    DataSubjectErasureRequested,
    "tenant.data_subject.erasure_requested.v1",
    aggregate = request_id,
    tenant = tenant_id
);

/// Who an erasure is about: every identifier the person is known by in the tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSubject {
    /// The person's Mirai user id, when they have an account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// Email addresses (xAPI `mbox` and `mbox_sha1sum` are derived from them).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Accounts on other systems (xAPI `account`).
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// OpenID URIs.
    #[serde(default)]
    pub openids: Vec<String>,
}

/// An account on another system (xAPI `account`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The system's home page.
    pub home_page: String,
    /// The person's name on that system.
    pub name: String,
}

/// A feature was turned on or off for the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFlagChanged {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The feature's key, e.g. `ai.authoring`.
    pub key: String,
    /// Whether it is on now.
    pub enabled: bool,
}

event!(FeatureFlagChanged, "tenant.feature_flag.changed.v1", aggregate = tenant_id, tenant = tenant_id);

/// Someone was invited to the tenant; notification mails the link (the token is not in
/// the event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationCreated {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The tenant invited to.
    pub tenant_id: TenantId,
    /// Where the invitation goes (normalized: trimmed, lower-case).
    pub email: String,
    /// The roles the person gets on accepting (role names).
    pub roles: Vec<String>,
    /// When the invitation lapses.
    pub expires_at: DateTime<Utc>,
}

event!(InvitationCreated, "tenant.invitation.created.v1", aggregate = invitation_id, tenant = tenant_id);

/// A user holds these roles in the tenant (created or changed). The newest revision wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipGranted {
    /// The membership.
    pub membership_id: MembershipId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The member.
    pub user_id: UserId,
    /// The roles they hold (role names).
    pub roles: Vec<String>,
    /// The org unit they belong to; `null` for none.
    #[serde(default)]
    pub org_unit_id: Option<OrgUnitId>,
    /// The membership's revision; a newer one wins.
    pub revision: i64,
}

event!(MembershipGranted, "tenant.membership.granted.v1", aggregate = membership_id, tenant = tenant_id);

/// A user no longer belongs to the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipRevoked {
    /// The membership.
    pub membership_id: MembershipId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The former member.
    pub user_id: UserId,
    /// The membership's revision; a newer one wins.
    pub revision: i64,
}

event!(MembershipRevoked, "tenant.membership.revoked.v1", aggregate = membership_id, tenant = tenant_id);

/// A group of members was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCreated {
    pub tenant_id: TenantId,
    pub group_id: GroupId,
    pub name: String,
}

event!(GroupCreated, "tenant.group.created.v1", aggregate = group_id, tenant = tenant_id);

/// A member joined a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMemberAdded {
    pub tenant_id: TenantId,
    pub group_id: GroupId,
    pub user_id: UserId,
}

event!(GroupMemberAdded, "tenant.group.member_added.v1", aggregate = group_id, tenant = tenant_id);

/// A member left a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMemberRemoved {
    pub tenant_id: TenantId,
    pub group_id: GroupId,
    pub user_id: UserId,
}

event!(GroupMemberRemoved, "tenant.group.member_removed.v1", aggregate = group_id, tenant = tenant_id);

/// An org unit was created in the tenant's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgUnitCreated {
    /// The new org unit.
    pub org_unit_id: OrgUnitId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its parent; `null` at the root.
    pub parent_id: Option<OrgUnitId>,
    /// Its name (unique under its parent).
    pub name: String,
}

event!(OrgUnitCreated, "tenant.org_unit.created.v1", aggregate = org_unit_id, tenant = tenant_id);

/// A tenant secret was stored, replaced or deleted (never its value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretChanged {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The secret's name, e.g. `smtp.password`.
    pub name: String,
    /// The secret's version after the change.
    pub version: i64,
    /// Whether the change deleted it.
    pub deleted: bool,
}

event!(SecretChanged, "tenant.secret.changed.v1", aggregate = tenant_id, tenant = tenant_id);

/// The tenant's settings object was replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdated {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The settings' revision after the change.
    pub revision: i64,
    /// The top-level keys of the new settings object.
    pub keys: Vec<String>,
}

event!(SettingsUpdated, "tenant.settings.updated.v1", aggregate = tenant_id, tenant = tenant_id);

/// A tenant (organization, provider or individual) was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantCreated {
    /// The new tenant.
    pub tenant_id: TenantId,
    /// What kind of tenant it is.
    pub kind: TenantKind,
    /// Its display name.
    pub name: String,
    /// Its URL-safe short name.
    pub slug: String,
}

event!(TenantCreated, "tenant.tenant.created.v1", aggregate = tenant_id, tenant = tenant_id);

/// What kind of tenant it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    /// An organization.
    Org,
    /// A content provider.
    Provider,
    /// An individual.
    Individual,
}
