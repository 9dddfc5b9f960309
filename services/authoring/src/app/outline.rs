//! A course's outline: modules → lessons → typed blocks, as stored in the draft and
//! frozen into versions. `apply` turns a client's edited outline into the next draft:
//! new items get ids, known ids keep theirs (so reordering and moving a block between
//! lessons keep its identity and review state), unknown ids are refused, and the AI rules
//! hold — a block with provenance is AI-generated and starts `draft_ai`, a block that
//! claims AI origin without provenance is refused, and an AI block stays one.

use std::collections::{HashMap, HashSet};

use mirai_contracts::{
    events::authoring::{OutlineBlock, OutlineLesson, OutlineModule},
    ids::{BlockId, LessonId, ModuleId},
};
use mirai_kit::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::content::{Content, Tone};

/// At most this many modules, lessons (in all) and blocks (in all) in one course.
pub const MAX_MODULES: usize = 200;
pub const MAX_LESSONS: usize = 1_000;
pub const MAX_BLOCKS: usize = 10_000;

/// Where a block came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Human,
    Ai,
}

/// A block's review state: `human` (written by a person), `draft_ai` (generated, not yet
/// reviewed: blocks publishing) or `reviewed` (generated, accepted by an author).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    Human,
    DraftAi,
    Reviewed,
}

/// Where an AI-generated block came from: enough to reproduce and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiProvenance {
    /// The model that generated it, e.g. `claude-sonnet-4`.
    pub model: String,
    pub prompt_id: String,
    pub prompt_version: String,
    /// `sha256:<hex>` of the rendered prompt.
    pub prompt_hash: String,
    /// What the generation drew on (media ids, URLs, lesson ids).
    #[serde(default)]
    pub sources: Vec<String>,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    /// The ai-gateway request that produced it.
    pub request_id: String,
}

impl AiProvenance {
    fn check(&self, path: &str, errors: &mut Vec<FieldError>) {
        for (field, v) in [
            ("model", &self.model),
            ("prompt_id", &self.prompt_id),
            ("prompt_version", &self.prompt_version),
            ("request_id", &self.request_id),
        ] {
            if v.trim().is_empty() || v.len() > 200 {
                errors.push(FieldError::new(format!("{path}.ai_provenance.{field}"), "1 to 200 characters"));
            }
        }
        let hex = self.prompt_hash.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.push(FieldError::new(format!("{path}.ai_provenance.prompt_hash"), "sha256:<64 hex digits>"));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Block {
    #[schema(value_type = uuid::Uuid)]
    pub id: BlockId,
    #[serde(flatten)]
    pub content: Content,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_provenance: Option<AiProvenance>,
    pub review: Review,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Lesson {
    #[schema(value_type = uuid::Uuid)]
    pub id: LessonId,
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Module {
    #[schema(value_type = uuid::Uuid)]
    pub id: ModuleId,
    pub title: String,
    pub lessons: Vec<Lesson>,
}

/// A course's outline, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Outline {
    pub modules: Vec<Module>,
}

/// A block as a client sends it: no `id` for a new one; `kind` and its `content`
/// (`text`: `{markdown}`, `image`: `{media_id, alt, caption?}`, `video`: `{media_id,
/// caption?, transcript?}`, `file`: `{media_id, name}`, `quiz`: `{quiz_id}`, `package`:
/// `{package_id, title?}`, `code`: `{language, source}`, `callout`: `{tone, markdown}`);
/// `origin` and `ai_provenance` say whether a person or a model wrote it. The review
/// state is the server's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockInput {
    #[schema(value_type = Option<uuid::Uuid>)]
    pub id: Option<BlockId>,
    pub kind: String,
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    pub origin: Option<Origin>,
    pub ai_provenance: Option<AiProvenance>,
    /// Read-only: accepted so a course read can be sent back as it is, and ignored (the
    /// review state is the server's; `POST …/review` changes it).
    #[serde(default)]
    pub review: Option<Review>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonInput {
    #[schema(value_type = Option<uuid::Uuid>)]
    pub id: Option<LessonId>,
    pub title: String,
    #[serde(default)]
    pub blocks: Vec<BlockInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleInput {
    #[schema(value_type = Option<uuid::Uuid>)]
    pub id: Option<ModuleId>,
    pub title: String,
    #[serde(default)]
    pub lessons: Vec<LessonInput>,
}

fn title(path: &str, t: &str, errors: &mut Vec<FieldError>) -> String {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 200 {
        errors.push(FieldError::new(format!("{path}.title"), "1 to 200 characters"));
    }
    t.to_owned()
}

/// The next draft from the current one and the client's edited outline (see the module
/// documentation). Returns the outline and how many blocks changed.
pub fn apply(current: &Outline, input: Vec<ModuleInput>) -> Result<(Outline, usize), AppError> {
    let known_modules: HashSet<ModuleId> = current.modules.iter().map(|m| m.id).collect();
    let known_lessons: HashSet<LessonId> = current.modules.iter().flat_map(|m| &m.lessons).map(|l| l.id).collect();
    let known_blocks: HashMap<BlockId, &Block> =
        current.modules.iter().flat_map(|m| &m.lessons).flat_map(|l| &l.blocks).map(|b| (b.id, b)).collect();
    let ai_contents: Vec<&Content> =
        known_blocks.values().filter(|b| b.origin == Origin::Ai).map(|b| &b.content).collect();
    let (mut seen_m, mut seen_l, mut seen_b) = (HashSet::new(), HashSet::new(), HashSet::new());
    let mut errors = vec![];
    let mut changed = 0;
    if input.len() > MAX_MODULES {
        return Err(AppError::invalid("modules", format!("at most {MAX_MODULES} modules")));
    }
    let (lessons, blocks): (usize, usize) = input
        .iter()
        .map(|m| (m.lessons.len(), m.lessons.iter().map(|l| l.blocks.len()).sum::<usize>()))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if lessons > MAX_LESSONS || blocks > MAX_BLOCKS {
        return Err(AppError::invalid("modules", format!("at most {MAX_LESSONS} lessons and {MAX_BLOCKS} blocks")));
    }
    let mut modules = Vec::with_capacity(input.len());
    for (mi, m) in input.into_iter().enumerate() {
        let mp = format!("modules[{mi}]");
        let id = match m.id {
            Some(id) if !known_modules.contains(&id) => {
                errors.push(FieldError::new(
                    format!("{mp}.id"),
                    "is not a module of this course (omit it for a new one)",
                ));
                id
            }
            Some(id) => id,
            None => ModuleId::new(),
        };
        if !seen_m.insert(id) {
            errors.push(FieldError::new(format!("{mp}.id"), "appears twice"));
        }
        let mtitle = title(&mp, &m.title, &mut errors);
        let mut lessons_out = Vec::with_capacity(m.lessons.len());
        for (li, l) in m.lessons.into_iter().enumerate() {
            let lp = format!("{mp}.lessons[{li}]");
            let id = match l.id {
                Some(id) if !known_lessons.contains(&id) => {
                    errors.push(FieldError::new(
                        format!("{lp}.id"),
                        "is not a lesson of this course (omit it for a new one)",
                    ));
                    id
                }
                Some(id) => id,
                None => LessonId::new(),
            };
            if !seen_l.insert(id) {
                errors.push(FieldError::new(format!("{lp}.id"), "appears twice"));
            }
            let ltitle = title(&lp, &l.title, &mut errors);
            let mut blocks_out = Vec::with_capacity(l.blocks.len());
            for (bi, b) in l.blocks.into_iter().enumerate() {
                let bp = format!("{lp}.blocks[{bi}]");
                let content: Content =
                    match serde_json::from_value(serde_json::json!({ "kind": b.kind, "content": b.content })) {
                        Ok(c) => c,
                        Err(e) => {
                            errors.push(FieldError::new(
                                format!("{bp}.content"),
                                format!("not a valid `{}` block: {e}", b.kind),
                            ));
                            continue;
                        }
                    };
                content.check(&bp, &mut errors);
                let before = match b.id {
                    Some(id) => match known_blocks.get(&id) {
                        Some(old) => Some(*old),
                        None => {
                            errors.push(FieldError::new(
                                format!("{bp}.id"),
                                "is not a block of this course (omit it for a new one)",
                            ));
                            None
                        }
                    },
                    None => None,
                };
                let id = b.id.unwrap_or_else(BlockId::new);
                if !seen_b.insert(id) {
                    errors.push(FieldError::new(
                        format!("{bp}.id"),
                        "appears twice (send a copy without an id to duplicate it)",
                    ));
                }
                let origin = match (b.origin, &b.ai_provenance) {
                    (Some(Origin::Human), Some(_)) => {
                        errors.push(FieldError::new(
                            format!("{bp}.origin"),
                            "a block with ai_provenance is AI-generated",
                        ));
                        Origin::Ai
                    }
                    (Some(Origin::Ai), None) => {
                        errors.push(FieldError::new(
                            format!("{bp}.ai_provenance"),
                            "a block that claims AI origin carries its provenance",
                        ));
                        Origin::Ai
                    }
                    (_, Some(_)) => Origin::Ai,
                    (_, None) => Origin::Human,
                };
                if let Some(p) = &b.ai_provenance {
                    p.check(&bp, &mut errors);
                }
                if before.is_some_and(|old| old.origin == Origin::Ai) && origin == Origin::Human {
                    errors.push(FieldError::new(
                        format!("{bp}.origin"),
                        "an AI-generated block stays one: review it instead",
                    ));
                }
                // Generated content re-sent as a new human block (copied without its id and
                // provenance) is still generated.
                if before.is_none() && origin == Origin::Human && ai_contents.contains(&&content) {
                    errors.push(FieldError::new(
                        format!("{bp}.origin"),
                        "this content was AI-generated in this course: copy the block with its ai_provenance",
                    ));
                }
                let same = before.is_some_and(|old| old.content == content && old.ai_provenance == b.ai_provenance);
                let review = match (origin, before) {
                    (Origin::Human, _) => Review::Human,
                    (Origin::Ai, Some(old)) if same => old.review,
                    (Origin::Ai, _) => Review::DraftAi,
                };
                if !same {
                    changed += 1;
                }
                blocks_out.push(Block { id, content, origin, ai_provenance: b.ai_provenance, review });
            }
            lessons_out.push(Lesson { id, title: ltitle, blocks: blocks_out });
        }
        modules.push(Module { id, title: mtitle, lessons: lessons_out });
    }
    if !errors.is_empty() {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        return Err(AppError::Invalid { detail, errors });
    }
    Ok((Outline { modules }, changed))
}

impl Outline {
    /// Every block not yet reviewed, with its place.
    pub fn unreviewed(&self) -> Vec<(String, BlockId)> {
        let mut out = vec![];
        for (mi, m) in self.modules.iter().enumerate() {
            for (li, l) in m.lessons.iter().enumerate() {
                for (bi, b) in l.blocks.iter().enumerate() {
                    if b.review == Review::DraftAi {
                        out.push((format!("modules[{mi}].lessons[{li}].blocks[{bi}]"), b.id));
                    }
                }
            }
        }
        out
    }

    pub fn lesson_count(&self) -> usize {
        self.modules.iter().map(|m| m.lessons.len()).sum()
    }

    pub fn block_mut(&mut self, id: BlockId) -> Option<&mut Block> {
        self.modules.iter_mut().flat_map(|m| &mut m.lessons).flat_map(|l| &mut l.blocks).find(|b| b.id == id)
    }

    /// The outline as events carry it (ids, titles, kinds and readable text).
    pub fn published(&self) -> Vec<OutlineModule> {
        self.modules
            .iter()
            .map(|m| OutlineModule {
                module_id: m.id,
                title: m.title.clone(),
                lessons: m
                    .lessons
                    .iter()
                    .map(|l| OutlineLesson {
                        lesson_id: l.id,
                        title: l.title.clone(),
                        blocks: l
                            .blocks
                            .iter()
                            .map(|b| OutlineBlock {
                                block_id: b.id,
                                kind: b.content.kind().to_owned(),
                                text: b.content.text(),
                                media_id: b.content.media_id().map(Into::into),
                                package_id: b.content.package().map(|(p, _)| p.into()),
                                item: b.content.package().and_then(|(_, i)| i.map(str::to_owned)),
                                content: serde_json::to_value(&b.content)
                                    .ok()
                                    .and_then(|mut v| v.get_mut("content").map(serde_json::Value::take)),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The same outline with fresh ids throughout (a duplicated course).
    pub fn with_new_ids(&self) -> Outline {
        Outline {
            modules: self
                .modules
                .iter()
                .map(|m| Module {
                    id: ModuleId::new(),
                    title: m.title.clone(),
                    lessons: m
                        .lessons
                        .iter()
                        .map(|l| Lesson {
                            id: LessonId::new(),
                            title: l.title.clone(),
                            blocks: l.blocks.iter().map(|b| Block { id: BlockId::new(), ..b.clone() }).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
