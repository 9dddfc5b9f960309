//! The rules for a statement's parts: agents and groups (with their identifiers),
//! verbs, activities, results, contexts, statement references and sub-statements.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Ctx, R, XapiVersion, rules::*, timestamp};

/// What a statement's object is, for the index: (activity id, agent IFI, statement ref).
pub(super) type ObjectIds = (Option<String>, Option<String>, Option<Uuid>);

/// Canonical inverse functional identifier of an agent or identified group.
pub(super) fn ifi(m: &Map<String, Value>, path: &str) -> Result<Option<String>, String> {
    let mut found = vec![];
    if let Some(v) = m.get("mbox") {
        let s = string(v, &format!("{path}.mbox"))?;
        let addr = s.strip_prefix("mailto:").ok_or_else(|| format!("{path}.mbox must be a mailto: IRI"))?;
        if !addr.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()) {
            return Err(format!("{path}.mbox must be a mailto: IRI of an email address"));
        }
        // The domain is case-insensitive (Data 2.4.2.3): one agent, one key.
        found.push(format!("mbox:{}", super::compare::mbox(s)));
    }
    if let Some(v) = m.get("mbox_sha1sum") {
        let s = string(v, &format!("{path}.mbox_sha1sum"))?;
        if s.len() != 40 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{path}.mbox_sha1sum must be 40 hex digits"));
        }
        found.push(format!("sha1:{}", s.to_lowercase()));
    }
    if let Some(v) = m.get("openid") {
        found.push(format!("openid:{}", iri(v, &format!("{path}.openid"))?));
    }
    if let Some(v) = m.get("account") {
        let a = obj(v, &format!("{path}.account"))?;
        only(a, &format!("{path}.account"), &["homePage", "name"])?;
        let home = iri(
            a.get("homePage").ok_or_else(|| format!("{path}.account.homePage is required"))?,
            &format!("{path}.account.homePage"),
        )?;
        let name = string(
            a.get("name").ok_or_else(|| format!("{path}.account.name is required"))?,
            &format!("{path}.account.name"),
        )?;
        found.push(format!("account:{home}|{name}"));
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(format!(
            "{path} must have exactly one inverse functional identifier (mbox, mbox_sha1sum, openid, account), found {}",
            found.len()
        )),
    }
}

/// An Agent or Group; returns its IFI (None for an anonymous group).
pub(super) fn actor(v: &Value, path: &str, ctx: &mut Ctx) -> Result<Option<String>, String> {
    let m = obj(v, path)?;
    let kind = match m.get("objectType") {
        None => "Agent",
        Some(t) => string(t, &format!("{path}.objectType"))?,
    };
    match kind {
        "Agent" => {
            only(m, path, &["objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"])?;
            if let Some(n) = m.get("name") {
                string(n, &format!("{path}.name"))?;
            }
            let id = ifi(m, path)?
                .ok_or_else(|| format!("{path}: an Agent must have exactly one inverse functional identifier"))?;
            ctx.agents.push(id.clone());
            Ok(Some(id))
        }
        "Group" => {
            only(m, path, &["objectType", "name", "member", "mbox", "mbox_sha1sum", "openid", "account"])?;
            if let Some(n) = m.get("name") {
                string(n, &format!("{path}.name"))?;
            }
            let id = ifi(m, path)?;
            match m.get("member") {
                Some(members) => {
                    let arr = members.as_array().ok_or_else(|| format!("{path}.member must be an array"))?;
                    for (i, member) in arr.iter().enumerate() {
                        let mp = format!("{path}.member[{i}]");
                        let mm = obj(member, &mp)?;
                        if mm.get("objectType").and_then(Value::as_str) == Some("Group") {
                            return Err(format!("{mp}: a Group's members must be Agents, not Groups"));
                        }
                        actor(member, &mp, ctx)?;
                    }
                    if id.is_none() && arr.is_empty() {
                        return Err(format!("{path}: an anonymous Group must list its members"));
                    }
                }
                None if id.is_none() => {
                    return Err(format!("{path}: an anonymous Group must have a member list"));
                }
                None => {}
            }
            if let Some(i) = &id {
                ctx.agents.push(i.clone());
            }
            Ok(id)
        }
        other => Err(format!("{path}.objectType must be Agent or Group, got `{other}`")),
    }
}

pub(super) fn verb(v: &Value, path: &str) -> Result<String, String> {
    let m = obj(v, path)?;
    only(m, path, &["id", "display"])?;
    let id = iri(m.get("id").ok_or_else(|| format!("{path}.id is required"))?, &format!("{path}.id"))?;
    if let Some(d) = m.get("display") {
        language_map(d, &format!("{path}.display"))?;
    }
    Ok(id)
}

pub(super) const INTERACTION_TYPES: &[&str] = &[
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
];

pub(super) fn activity(v: &Value, path: &str, ctx: &mut Ctx) -> Result<String, String> {
    let m = obj(v, path)?;
    only(m, path, &["objectType", "id", "definition"])?;
    let id = iri(m.get("id").ok_or_else(|| format!("{path}.id is required"))?, &format!("{path}.id"))?;
    if let Some(d) = m.get("definition") {
        let dp = format!("{path}.definition");
        let dm = obj(d, &dp)?;
        only(
            dm,
            &dp,
            &[
                "name",
                "description",
                "type",
                "moreInfo",
                "interactionType",
                "correctResponsesPattern",
                "choices",
                "scale",
                "source",
                "target",
                "steps",
                "extensions",
            ],
        )?;
        for k in ["name", "description"] {
            if let Some(x) = dm.get(k) {
                language_map(x, &format!("{dp}.{k}"))?;
            }
        }
        for k in ["type", "moreInfo"] {
            if let Some(x) = dm.get(k) {
                iri(x, &format!("{dp}.{k}"))?;
            }
        }
        if let Some(x) = dm.get("extensions") {
            extensions(x, &format!("{dp}.extensions"))?;
        }
        let interaction = dm.get("interactionType").map(|t| string(t, &format!("{dp}.interactionType"))).transpose()?;
        if let Some(t) = interaction
            && !INTERACTION_TYPES.contains(&t)
        {
            return Err(format!("{dp}.interactionType `{t}` is not an xAPI interaction type"));
        }
        if let Some(c) = dm.get("correctResponsesPattern") {
            if interaction.is_none() {
                return Err(format!("{dp}.correctResponsesPattern needs an interactionType"));
            }
            let arr =
                c.as_array().ok_or_else(|| format!("{dp}.correctResponsesPattern must be an array of strings"))?;
            for (i, s) in arr.iter().enumerate() {
                string(s, &format!("{dp}.correctResponsesPattern[{i}]"))?;
            }
        }
        for k in ["choices", "scale", "source", "target", "steps"] {
            let Some(list) = dm.get(k) else { continue };
            if interaction.is_none() {
                return Err(format!("{dp}.{k} needs an interactionType"));
            }
            let arr = list.as_array().ok_or_else(|| format!("{dp}.{k} must be an array"))?;
            let mut seen = std::collections::HashSet::new();
            for (i, c) in arr.iter().enumerate() {
                let cp = format!("{dp}.{k}[{i}]");
                let cm = obj(c, &cp)?;
                only(cm, &cp, &["id", "description"])?;
                let cid = string(cm.get("id").ok_or_else(|| format!("{cp}.id is required"))?, &format!("{cp}.id"))?;
                if !seen.insert(cid.to_owned()) {
                    return Err(format!("{dp}.{k}: interaction component ids must be unique (`{cid}`)"));
                }
                if let Some(d) = cm.get("description") {
                    language_map(d, &format!("{cp}.description"))?;
                }
            }
        }
    }
    ctx.activities.push(id.clone());
    Ok(id)
}

pub(super) fn result(v: &Value, path: &str) -> R {
    let m = obj(v, path)?;
    only(m, path, &["score", "success", "completion", "response", "duration", "extensions"])?;
    if let Some(s) = m.get("score") {
        let sp = format!("{path}.score");
        let sm = obj(s, &sp)?;
        only(sm, &sp, &["scaled", "raw", "min", "max"])?;
        let num = |k: &str| -> Result<Option<f64>, String> {
            sm.get(k).map(|x| x.as_f64().ok_or_else(|| format!("{sp}.{k} must be a number"))).transpose()
        };
        let (scaled, raw, min, max) = (num("scaled")?, num("raw")?, num("min")?, num("max")?);
        if scaled.is_some_and(|x| !(-1.0..=1.0).contains(&x)) {
            return Err(format!("{sp}.scaled must be between -1 and 1"));
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            return Err(format!("{sp}.min must not exceed max"));
        }
        if let Some(r) = raw
            && (min.is_some_and(|lo| r < lo) || max.is_some_and(|hi| r > hi))
        {
            return Err(format!("{sp}.raw must lie between min and max"));
        }
    }
    for k in ["success", "completion"] {
        if let Some(x) = m.get(k)
            && !x.is_boolean()
        {
            return Err(format!("{path}.{k} must be a boolean"));
        }
    }
    if let Some(r) = m.get("response") {
        string(r, &format!("{path}.response"))?;
    }
    if let Some(d) = m.get("duration") {
        let s = string(d, &format!("{path}.duration"))?;
        if !is_duration(s) {
            return Err(format!("{path}.duration must be an ISO 8601 duration, got `{s}`"));
        }
    }
    if let Some(e) = m.get("extensions") {
        extensions(e, &format!("{path}.extensions"))?;
    }
    Ok(())
}

pub(super) fn activity_list(v: &Value, path: &str, ctx: &mut Ctx) -> R {
    match v {
        Value::Array(items) => {
            for (i, a) in items.iter().enumerate() {
                activity(a, &format!("{path}[{i}]"), ctx)?;
            }
            Ok(())
        }
        Value::Object(_) => activity(v, path, ctx).map(|_| ()),
        _ => Err(format!("{path} must be an Activity or an array of Activities")),
    }
}

pub(super) fn context(v: &Value, path: &str, object_is_activity: bool, ctx: &mut Ctx) -> Result<Option<Uuid>, String> {
    let m = obj(v, path)?;
    let mut allowed = vec![
        "registration",
        "instructor",
        "team",
        "contextActivities",
        "revision",
        "platform",
        "language",
        "statement",
        "extensions",
    ];
    if ctx.version == XapiVersion::V20 {
        allowed.extend(["contextAgents", "contextGroups"]);
    }
    if ctx.version == XapiVersion::V103 {
        for k in ["contextAgents", "contextGroups"] {
            if m.contains_key(k) {
                return Err(format!("{path}.{k} is an xAPI 2.0 property; this request is 1.0.3"));
            }
        }
    }
    only(m, path, &allowed)?;
    let registration = m.get("registration").map(|r| uuid(r, &format!("{path}.registration"))).transpose()?;
    if let Some(i) = m.get("instructor") {
        actor(i, &format!("{path}.instructor"), ctx)?;
    }
    if let Some(t) = m.get("team") {
        if obj(t, &format!("{path}.team"))?.get("objectType").and_then(Value::as_str) != Some("Group") {
            return Err(format!("{path}.team must be a Group"));
        }
        actor(t, &format!("{path}.team"), ctx)?;
    }
    if let Some(ca) = m.get("contextActivities") {
        let cp = format!("{path}.contextActivities");
        let cm = obj(ca, &cp)?;
        only(cm, &cp, &["parent", "grouping", "category", "other"])?;
        if cm.is_empty() {
            return Err(format!("{cp} must name at least one of parent, grouping, category, other"));
        }
        for (k, list) in cm {
            activity_list(list, &format!("{cp}.{k}"), ctx)?;
        }
    }
    for k in ["revision", "platform"] {
        if let Some(x) = m.get(k) {
            string(x, &format!("{path}.{k}"))?;
            if !object_is_activity {
                return Err(format!("{path}.{k} is only allowed when the object is an Activity"));
            }
        }
    }
    if let Some(l) = m.get("language") {
        let s = string(l, &format!("{path}.language"))?;
        if !is_language_tag(s) {
            return Err(format!("{path}.language must be an RFC 5646 language tag"));
        }
    }
    if let Some(s) = m.get("statement") {
        statement_ref(s, &format!("{path}.statement"))?;
    }
    if let Some(e) = m.get("extensions") {
        extensions(e, &format!("{path}.extensions"))?;
    }
    for (k, kind, key) in [("contextAgents", "contextAgent", "agent"), ("contextGroups", "contextGroup", "group")] {
        let Some(list) = m.get(k) else { continue };
        let arr = list.as_array().ok_or_else(|| format!("{path}.{k} must be an array"))?;
        for (i, item) in arr.iter().enumerate() {
            let ip = format!("{path}.{k}[{i}]");
            let im = obj(item, &ip)?;
            only(im, &ip, &["objectType", key, "relevantTypes"])?;
            if im.get("objectType").and_then(Value::as_str) != Some(kind) {
                return Err(format!("{ip}.objectType must be `{kind}`"));
            }
            let who = im.get(key).ok_or_else(|| format!("{ip}.{key} is required"))?;
            if key == "group"
                && obj(who, &format!("{ip}.group"))?.get("objectType").and_then(Value::as_str) != Some("Group")
            {
                return Err(format!("{ip}.group must be a Group"));
            }
            actor(who, &format!("{ip}.{key}"), ctx)?;
            if let Some(rt) = im.get("relevantTypes") {
                let arr = rt
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| format!("{ip}.relevantTypes must be a non-empty array of IRIs"))?;
                for (j, t) in arr.iter().enumerate() {
                    iri(t, &format!("{ip}.relevantTypes[{j}]"))?;
                }
            }
        }
    }
    Ok(registration)
}

pub(super) fn statement_ref(v: &Value, path: &str) -> Result<Uuid, String> {
    let m = obj(v, path)?;
    only(m, path, &["objectType", "id"])?;
    if m.get("objectType").and_then(Value::as_str) != Some("StatementRef") {
        return Err(format!("{path}.objectType must be StatementRef"));
    }
    uuid(m.get("id").ok_or_else(|| format!("{path}.id is required"))?, &format!("{path}.id"))
}

pub(super) fn object(v: &Value, path: &str, ctx: &mut Ctx, sub: bool) -> Result<ObjectIds, String> {
    let m = obj(v, path)?;
    let kind = match m.get("objectType") {
        None => "Activity",
        Some(t) => string(t, &format!("{path}.objectType"))?,
    };
    match kind {
        "Activity" => Ok((Some(activity(v, path, ctx)?), None, None)),
        "Agent" | "Group" => Ok((None, actor(v, path, ctx)?, None)),
        "StatementRef" => Ok((None, None, Some(statement_ref(v, path)?))),
        "SubStatement" if sub => Err(format!("{path}: a SubStatement cannot contain a SubStatement")),
        "SubStatement" => {
            only(m, path, &["objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"])?;
            actor(m.get("actor").ok_or_else(|| format!("{path}.actor is required"))?, &format!("{path}.actor"), ctx)?;
            verb(m.get("verb").ok_or_else(|| format!("{path}.verb is required"))?, &format!("{path}.verb"))?;
            let o = m.get("object").ok_or_else(|| format!("{path}.object is required"))?;
            let (act, _, _) = object(o, &format!("{path}.object"), ctx, true)?;
            if let Some(r) = m.get("result") {
                result(r, &format!("{path}.result"))?;
            }
            if let Some(c) = m.get("context") {
                context(c, &format!("{path}.context"), act.is_some(), ctx)?;
            }
            if let Some(a) = m.get("attachments") {
                attachments(a, &format!("{path}.attachments"))?;
            }
            if let Some(t) = m.get("timestamp") {
                timestamp(string(t, &format!("{path}.timestamp"))?)?;
            }
            Ok((None, None, None))
        }
        other => {
            Err(format!("{path}.objectType `{other}` is not Activity, Agent, Group, StatementRef or SubStatement"))
        }
    }
}

/// Attachment objects (Data 2.4.11): usageType IRI, display (and description) language
/// maps, contentType an Internet media type, length an integer, sha2 a hex SHA-2 digest,
/// fileUrl an IRL.
pub(super) fn attachments(v: &Value, path: &str) -> R {
    let arr = v.as_array().ok_or_else(|| format!("{path} must be an array"))?;
    for (i, a) in arr.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let am = obj(a, &p)?;
        only(am, &p, &["usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"])?;
        iri(am.get("usageType").ok_or_else(|| format!("{p}.usageType is required"))?, &format!("{p}.usageType"))?;
        language_map(am.get("display").ok_or_else(|| format!("{p}.display is required"))?, &format!("{p}.display"))?;
        if let Some(d) = am.get("description") {
            language_map(d, &format!("{p}.description"))?;
        }
        let ct = string(
            am.get("contentType").ok_or_else(|| format!("{p}.contentType is required"))?,
            &format!("{p}.contentType"),
        )?;
        if !is_media_type(ct) {
            return Err(format!("{p}.contentType `{ct}` is not an Internet media type"));
        }
        if am.get("length").is_none_or(|l| l.as_u64().is_none()) {
            return Err(format!("{p}.length must be a non-negative integer"));
        }
        let sha2 = string(am.get("sha2").ok_or_else(|| format!("{p}.sha2 is required"))?, &format!("{p}.sha2"))?;
        if ![56, 64, 96, 128].contains(&sha2.len()) || !sha2.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{p}.sha2 must be the hex SHA-2 digest of the attachment"));
        }
        if let Some(u) = am.get("fileUrl") {
            iri(u, &format!("{p}.fileUrl"))?;
        }
    }
    Ok(())
}

/// `type/subtype` with RFC 6838 token characters, parameters allowed after `;`.
fn is_media_type(s: &str) -> bool {
    let essence = s.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| {
        !t.is_empty() && t.len() <= 127 && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    essence.split_once('/').is_some_and(|(t, st)| token(t) && token(st))
}
