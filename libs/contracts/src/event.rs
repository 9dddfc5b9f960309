//! The `Event` trait ties a typed payload to its subject, aggregate and tenant; the
//! crate-internal `event!` macro implements it for each payload struct in `events`.

/// A typed event payload (the envelope's `data`), shared by its producer and consumers.
pub trait Event: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// The subject, `<context>.<aggregate>.<event>.vN`; exists once, here.
    const SUBJECT: &'static str;
    /// The aggregate the event is about (the envelope's `subject`).
    fn aggregate_id(&self) -> String;
    /// The tenant the payload belongs to (None for platform-wide events).
    fn tenant_id(&self) -> Option<uuid::Uuid>;
}

/// Implements [`Event`] for a payload struct:
///
/// - `event!(Ty, "<context>.<aggregate>.<event>.v1", aggregate = field, tenant = field);` the tenant is a
///   required `TenantId` (or `Uuid`) field;
/// - `tenant = optional field` for an `Option<TenantId>` (or `Option<Uuid>`) field;
/// - `tenant = none` for platform-wide events.
///
/// The aggregate field is anything `Display` (an id newtype, a `Uuid`, a `String`).
macro_rules! event {
    ($ty:ident, $subject:literal, aggregate = $agg:ident, tenant = none $(,)?) => {
        impl $crate::Event for $ty {
            const SUBJECT: &'static str = $subject;

            fn aggregate_id(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(&self.$agg)
            }

            fn tenant_id(&self) -> ::core::option::Option<::uuid::Uuid> {
                ::core::option::Option::None
            }
        }
    };
    ($ty:ident, $subject:literal, aggregate = $agg:ident, tenant = optional $tenant:ident $(,)?) => {
        impl $crate::Event for $ty {
            const SUBJECT: &'static str = $subject;

            fn aggregate_id(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(&self.$agg)
            }

            fn tenant_id(&self) -> ::core::option::Option<::uuid::Uuid> {
                self.$tenant.map(::uuid::Uuid::from)
            }
        }
    };
    ($ty:ident, $subject:literal, aggregate = $agg:ident, tenant = $tenant:ident $(,)?) => {
        impl $crate::Event for $ty {
            const SUBJECT: &'static str = $subject;

            fn aggregate_id(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(&self.$agg)
            }

            fn tenant_id(&self) -> ::core::option::Option<::uuid::Uuid> {
                ::core::option::Option::Some(::uuid::Uuid::from(self.$tenant))
            }
        }
    };
}

pub(crate) use event;
