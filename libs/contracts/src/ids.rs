//! Typed ids: newtypes over UUIDv7, so a tenant id cannot be passed where a user id is
//! expected. Each is a plain UUID on the wire (serde), in Postgres (sqlx) and in OpenAPI.
//! API key ids (`mk_<hex>`) and signing key ids (`k-<hex>`) are not UUIDs; they stay `String`.

use std::{fmt, str::FromStr};

use utoipa::openapi::{
    RefOr,
    schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
};
use uuid::Uuid;

/// `{type: string, format: uuid}`, the OpenAPI schema of every id.
fn uuid_schema() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))).into()
}

/// Declares a UUIDv7 id newtype with its conversions and serde, sqlx and utoipa support.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
            sqlx::Type
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(Uuid);

        #[allow(clippy::new_without_default)]
        impl $name {
            /// A fresh id (UUIDv7, so ids sort by creation time).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }

            /// The UUID inside, borrowed.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                uuid_schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// A tenant (organization, provider or individual).
    TenantId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// A user's membership in a tenant.
    MembershipId
);
id_type!(
    /// An org unit in a tenant's tree.
    OrgUnitId
);
id_type!(
    /// An invitation to join a tenant.
    InvitationId
);
id_type!(
    /// A data-subject request (GDPR erasure).
    DataSubjectRequestId
);
id_type!(
    /// An xAPI statement stored by the LRS.
    StatementId
);
id_type!(
    /// A note of the template service (the service to copy).
    NoteId
);
id_type!(
    /// A course in authoring (its draft and every published version share it).
    CourseId
);
id_type!(
    /// A module of a course (a group of lessons).
    ModuleId
);
id_type!(
    /// A lesson of a course.
    LessonId
);
id_type!(
    /// A content block of a lesson.
    BlockId
);
id_type!(
    /// A media asset: one uploaded file (image, video, document).
    AssetId
);
id_type!(
    /// An imported SCORM or cmi5 package.
    PackageId
);
id_type!(
    /// One model call through the ai-gateway.
    CallId
);
id_type!(
    /// An asynchronous generation (authoring asks, the ai-gateway answers).
    GenerationId
);
id_type!(
    /// A tenant's webhook endpoint (notification).
    EndpointId
);
id_type!(
    /// One message's delivery to one webhook endpoint (notification).
    DeliveryId
);

id_type!(
    /// A provider's offer of a published course version (marketplace).
    ListingId
);
id_type!(
    /// A tenant's order of seats of a listing (marketplace).
    OrderId
);
id_type!(
    /// Seats of a course a tenant owns (marketplace).
    LicenseId
);
id_type!(
    /// A payment of an order (billing).
    PaymentId
);
id_type!(
    /// A refund of (part of) a payment (billing).
    RefundId
);
id_type!(
    /// A payment to a course provider of what it is owed (billing).
    PayoutId
);
id_type!(
    /// A run of payouts to every provider owed something (billing).
    PayoutRunId
);
id_type!(
    /// A learner's enrollment in a course (enrollment).
    EnrollmentId
);
id_type!(
    /// A course assigned to people of a tenant with a due date (assignment).
    AssignmentId
);
id_type!(
    /// A receipt or credit note, numbered per issuer (billing).
    DocumentId
);
id_type!(
    /// A named set of a tenant's members, apart from org units (tenant).
    GroupId
);
id_type!(
    /// A recurring payment of a subscription order, renewed each period (billing).
    SubscriptionId
);
id_type!(
    /// A learner's run through a course version in the player: the xAPI registration of
    /// every statement it records (delivery).
    PlaySessionId
);

id_type!(
    /// A question of a tenant's item bank (assessment).
    ItemId
);
id_type!(
    /// A quiz: pools of items drawn from, a pass mark, limits (assessment).
    QuizId
);
id_type!(
    /// A learner's attempt of a quiz: the xAPI registration of its statements (assessment).
    QuizAttemptId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_plain_uuid_on_the_wire() {
        let id = TenantId::new();
        let json = serde_json::to_value(id).unwrap();
        assert_eq!(json, serde_json::Value::String(id.to_string()));
        assert_eq!(serde_json::from_value::<TenantId>(json).unwrap(), id);
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
        assert_eq!(Uuid::from(id), id.into_uuid());
        assert_eq!(id.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn an_id_documents_as_a_uuid_string() {
        let schema = serde_json::to_value(<UserId as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema, serde_json::json!({ "type": "string", "format": "uuid" }));
    }
}
