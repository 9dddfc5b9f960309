//! What a block holds: its typed content (one variant per kind), the checks each kind's
//! fields get, and the readable text search and the published outline carry.

use mirai_kit::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most text one block holds (markdown, code, transcript), in characters.
pub const MAX_TEXT: usize = 100_000;

/// A block's typed content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "content", rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    /// Rich text, as Markdown.
    Text { markdown: String },
    /// An image from media, with its text alternative.
    Image {
        #[schema(value_type = uuid::Uuid)]
        media_id: uuid::Uuid,
        alt: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// A video from media.
    Video {
        #[schema(value_type = uuid::Uuid)]
        media_id: uuid::Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transcript: Option<String>,
    },
    /// A downloadable file from media.
    File {
        #[schema(value_type = uuid::Uuid)]
        media_id: uuid::Uuid,
        name: String,
    },
    /// A quiz, by reference.
    Quiz {
        #[schema(value_type = uuid::Uuid)]
        quiz_id: uuid::Uuid,
    },
    /// An embedded SCORM or cmi5 activity, by its imported package.
    Package {
        #[schema(value_type = uuid::Uuid)]
        package_id: uuid::Uuid,
        /// Which item (SCO, AU) of the package; none: its first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// Source code to show.
    Code { language: String, source: String },
    /// A highlighted note.
    Callout { tone: Tone, markdown: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Info,
    Tip,
    Warning,
    Danger,
}

impl Content {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::File { .. } => "file",
            Self::Quiz { .. } => "quiz",
            Self::Package { .. } => "package",
            Self::Code { .. } => "code",
            Self::Callout { .. } => "callout",
        }
    }

    /// The media asset an image, video or file block shows.
    pub fn media_id(&self) -> Option<uuid::Uuid> {
        match self {
            Self::Image { media_id, .. } | Self::Video { media_id, .. } | Self::File { media_id, .. } => {
                Some(*media_id)
            }
            _ => None,
        }
    }

    /// The package a package block launches, and which item.
    pub fn package(&self) -> Option<(uuid::Uuid, Option<&str>)> {
        match self {
            Self::Package { package_id, item, .. } => Some((*package_id, item.as_deref())),
            _ => None,
        }
    }

    /// What a reader reads of it (for search): text without Markdown punctuation, a
    /// caption, alt text, a transcript, code.
    pub fn text(&self) -> String {
        let plain = |m: &str| {
            m.chars()
                .map(|c| if matches!(c, '#' | '*' | '_' | '`' | '>' | '[' | ']' | '|') { ' ' } else { c })
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Self::Text { markdown } | Self::Callout { markdown, .. } => plain(markdown),
            Self::Image { alt, caption, .. } => {
                [Some(alt.as_str()), caption.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
            }
            Self::Video { caption, transcript, .. } => {
                [caption.as_deref(), transcript.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
            }
            Self::File { name, .. } => name.clone(),
            Self::Package { title, .. } => title.clone().unwrap_or_default(),
            Self::Code { source, .. } => source.clone(),
            Self::Quiz { .. } => String::new(),
        }
    }

    pub(super) fn check(&self, path: &str, errors: &mut Vec<FieldError>) {
        let mut long = |field: &str, s: &str| {
            if s.chars().count() > MAX_TEXT {
                errors
                    .push(FieldError::new(format!("{path}.content.{field}"), format!("at most {MAX_TEXT} characters")));
            }
        };
        match self {
            Self::Text { markdown } | Self::Callout { markdown, .. } => long("markdown", markdown),
            Self::Code { source, language } => {
                long("source", source);
                if language.trim().is_empty() || language.len() > 40 {
                    errors.push(FieldError::new(format!("{path}.content.language"), "1 to 40 characters"));
                }
            }
            Self::Video { transcript: Some(t), .. } => long("transcript", t),
            Self::Image { alt, .. } if alt.trim().is_empty() => {
                errors.push(FieldError::new(format!("{path}.content.alt"), "an image needs its text alternative"));
            }
            Self::File { name, .. } if name.trim().is_empty() => {
                errors.push(FieldError::new(format!("{path}.content.name"), "must not be empty"));
            }
            _ => {}
        }
    }
}
