//! What authoring consumes: content's imported packages — each launchable item becomes a
//! lesson with a package block; the package's groups become modules, added to the named
//! draft (a new revision, in its history) or made into a new private draft course — and
//! media's ready and deleted assets; both are recorded as what blocks may point at.

use mirai_contracts::{
    events::{
        ai_gateway::{GenerationCompleted, GenerationProgressed},
        content::PackageImported,
        media::{AssetDeleted, AssetReady},
    },
    ids::{BlockId, CourseId, LessonId, ModuleId},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use serde_json::json;

use crate::{
    app::{
        content::Content,
        outline::{Block, Lesson, MAX_BLOCKS, MAX_LESSONS, MAX_MODULES, Module, Origin, Outline, Review},
    },
    store::{self, Meta},
};

fn modules(e: &PackageImported) -> Vec<Module> {
    e.modules
        .iter()
        .map(|m| Module {
            id: ModuleId::new(),
            title: m.title.chars().take(200).collect(),
            lessons: m
                .lessons
                .iter()
                .map(|l| Lesson {
                    id: LessonId::new(),
                    title: l.title.chars().take(200).collect(),
                    blocks: vec![Block {
                        id: BlockId::new(),
                        content: Content::Package {
                            package_id: e.package_id.into(),
                            item: Some(l.item.clone()),
                            title: Some(l.title.clone()),
                        },
                        origin: Origin::Human,
                        ai_provenance: None,
                        review: Review::Human,
                    }],
                })
                .collect(),
        })
        .collect()
}

async fn on_imported(cx: Cx<'_>, e: PackageImported) -> Result<(), HandleError> {
    store::ref_add(cx.tx, e.tenant_id, "package", e.package_id.into()).await?;
    let actor = cx.envelope.actor.clone().unwrap_or_else(|| "content".into());
    let detail = json!({ "package_id": e.package_id, "standard": e.standard, "title": e.title });
    if e.into_existing
        && let Some(course) = store::course_get(cx.tx, e.course_id, true).await?
        && course.status != "retired"
    {
        let mut draft = course.draft.0.clone();
        draft.modules.extend(modules(&e));
        // The draft's limits hold whatever writes it: over them, the import is recorded as
        // not added (the package stays importable into a course of its own).
        let lessons: usize = draft.modules.iter().map(|m| m.lessons.len()).sum();
        let blocks: usize = draft.modules.iter().flat_map(|m| &m.lessons).map(|l| l.blocks.len()).sum();
        if draft.modules.len() > MAX_MODULES || lessons > MAX_LESSONS || blocks > MAX_BLOCKS {
            let reason = format!(
                "the draft would have {} modules, {lessons} lessons, {blocks} blocks: at most {MAX_MODULES}, {MAX_LESSONS}, {MAX_BLOCKS}",
                draft.modules.len()
            );
            let detail = json!({ "package_id": e.package_id, "title": e.title, "reason": reason });
            store::history_add(
                cx.tx,
                course.tenant_id,
                course.id,
                course.revision,
                &actor,
                "package_not_added",
                detail,
            )
            .await?;
            return Ok(());
        }
        let meta = Meta {
            title: &course.title,
            summary: &course.summary,
            locale: &course.locale,
            tags: &course.tags,
            visibility: &course.visibility,
        };
        let row = store::course_update(cx.tx, course.id, &meta, &draft, &course.status, course.latest_version, &actor)
            .await?;
        store::history_add(cx.tx, row.tenant_id, row.id, row.revision, &actor, "package_imported", detail).await?;
        return Ok(());
    }
    // A new draft: under the id content announced, or (the named course is gone or
    // retired) a fresh one, so the import is never lost.
    let id = if e.into_existing { CourseId::new() } else { e.course_id };
    let title: String = e.title.chars().take(200).collect();
    let tags: Vec<String> = vec![];
    let meta = Meta { title: &title, summary: "", locale: "en", tags: &tags, visibility: "private" };
    let draft = Outline { modules: modules(&e) };
    if store::course_get(cx.tx, id, false).await?.is_some() {
        return Ok(());
    }
    let row = store::course_insert(cx.tx, id, e.tenant_id, &meta, &draft, &actor).await?;
    store::history_add(cx.tx, row.tenant_id, row.id, row.revision, &actor, "package_imported", detail).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("authoring-packages").on(on_imported)
}

/// Media's ready and deleted assets: what image, video and file blocks may show.
async fn on_asset_ready(cx: Cx<'_>, e: AssetReady) -> Result<(), HandleError> {
    store::ref_add(cx.tx, e.tenant_id, "asset", e.asset_id.into()).await?;
    Ok(())
}

async fn on_asset_deleted(cx: Cx<'_>, e: AssetDeleted) -> Result<(), HandleError> {
    store::ref_remove(cx.tx, "asset", e.asset_id.into()).await?;
    Ok(())
}

pub fn media_consumer() -> ConsumerSpec {
    ConsumerSpec::new("authoring-media").on(on_asset_ready).on(on_asset_deleted)
}

/// The tenant's `ai.authoring` flag: generations are refused (403) until it is on.
pub fn flags_consumer() -> ConsumerSpec {
    mirai_kit::features::consumer("authoring-flags", |key| key == crate::app::generations::FLAG)
}

/// The ai-gateway's answers to the generations authoring asked for.
async fn on_generation_progressed(cx: Cx<'_>, e: GenerationProgressed) -> Result<(), HandleError> {
    crate::app::generations::on_progressed(cx.tx, &e).await?;
    Ok(())
}

async fn on_generation_completed(cx: Cx<'_>, e: GenerationCompleted) -> Result<(), HandleError> {
    crate::app::generations::on_completed(cx.tx, &e).await?;
    Ok(())
}

pub fn generations_consumer() -> ConsumerSpec {
    ConsumerSpec::new("authoring-generations").on(on_generation_progressed).on(on_generation_completed)
}
