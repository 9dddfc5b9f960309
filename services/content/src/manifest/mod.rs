//! Reading a package's manifest: `imsmanifest.xml` (SCORM 1.2, SCORM 2004 2nd–4th
//! edition) or `cmi5.xml`, parsed with quick-xml into a small tree, then into what a
//! course needs: the organization's items as modules and lessons, each launchable item's
//! URL (with `xml:base` and `parameters` applied), its mastery score, and the sequencing
//! basics (choice and flow). Every way a manifest can be wrong is a [`Broken`] naming it.

mod xml;

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;
use xml::{El, parse};

/// Why a manifest cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken(pub String);

fn broken<T>(msg: impl Into<String>) -> Result<T, Broken> {
    Err(Broken(msg.into()))
}

/// The most launchable items and groups a package makes (authoring's limits on lessons
/// and modules), and the longest title and launch URL kept.
pub const MAX_ITEMS: usize = 1000;
pub const MAX_GROUPS: usize = 200;
const MAX_TITLE: usize = 200;
const MAX_LAUNCH: usize = 2048;

/// A launchable item of the package.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Item {
    /// Its identifier in the manifest.
    pub item: String,
    pub title: String,
    /// Launch URL relative to the package root (or absolute, for an external AU).
    pub launch: String,
    /// `sco` (talks to the LMS), `asset` (a plain page) or `au` (cmi5).
    pub kind: String,
    /// The score (0 to 1) that passes it, when the manifest sets one.
    pub mastery_score: Option<f64>,
    /// What a cmi5 AU's LMS needs of it besides its URL (absent for SCORM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub au: Option<Au>,
}

/// A cmi5 AU's course-structure attributes (cmi5 13.1.4).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Au {
    /// `Passed`, `Completed`, `CompletedAndPassed`, `CompletedOrPassed` or
    /// `NotApplicable` (the default).
    pub move_on: String,
    /// `AnyWindow` (the default) or `OwnWindow`.
    pub launch_method: String,
    pub launch_parameters: Option<String>,
    pub entitlement_key: Option<String>,
    /// The ids of the blocks enclosing the AU, outermost first.
    pub blocks: Vec<String>,
}

/// A group of items, in order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Group {
    pub title: String,
    pub items: Vec<Item>,
}

/// What the manifest says.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Manifest {
    /// `scorm_1.2`, `scorm_2004` or `cmi5`.
    pub standard: String,
    /// The SCORM 2004 edition's schema version, e.g. `2004 4th Edition`.
    pub schema_version: Option<String>,
    pub title: String,
    pub groups: Vec<Group>,
    /// Sequencing basics of the organization (SCORM 2004): may the learner choose any
    /// item, and does the flow go forward on its own.
    pub choice: bool,
    pub flow: bool,
    /// The cmi5 course's id (its publisher's IRI), for cmi5 packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course_iri: Option<String>,
}

impl Manifest {
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.groups.iter().flat_map(|g| &g.items)
    }
}

/// Joins `xml:base` values and an href the way a browser resolves them against the
/// package root; refuses anything that climbs out of it.
fn join(bases: &[Option<&str>], href: &str) -> Result<String, Broken> {
    if href.starts_with("http://") || href.starts_with("https://") {
        return Ok(href.to_owned());
    }
    let mut path = String::new();
    for b in bases.iter().flatten() {
        if b.starts_with("http://") || b.starts_with("https://") {
            path = b.to_string();
            continue;
        }
        path.push_str(b);
        if !path.ends_with('/') {
            path.push('/');
        }
    }
    path.push_str(href);
    if path.starts_with("http://") || path.starts_with("https://") {
        return Ok(path);
    }
    let (file, rest) = path.split_at(path.find(['?', '#']).unwrap_or(path.len()));
    let mut parts: Vec<&str> = Vec::new();
    for seg in file.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return broken(format!("`{href}` points outside the package"));
                }
            }
            s => parts.push(s),
        }
    }
    if file.starts_with('/') || file.contains('\\') {
        return broken(format!("`{href}` is not a path inside the package"));
    }
    Ok(format!("{}{rest}", parts.join("/")))
}

/// Appends an item's `parameters` to its resource's URL (IMS CP's rules: `?` and `#`
/// start a query or fragment, a query joins an existing one with `&`).
fn with_parameters(url: &str, params: Option<&str>) -> String {
    let Some(p) = params.map(str::trim).filter(|p| !p.is_empty()) else {
        return url.to_owned();
    };
    if let Some(frag) = p.strip_prefix('#') {
        return format!("{url}#{frag}");
    }
    let p = p.strip_prefix('?').or_else(|| p.strip_prefix('&')).unwrap_or(p);
    if url.contains('?') { format!("{url}&{p}") } else { format!("{url}?{p}") }
}

/// Reads the manifest the package has. `files` are the package's file paths (to check
/// that what is launched is there).
pub fn read(files: &HashSet<String>, read_file: impl Fn(&str) -> Option<Vec<u8>>) -> Result<Manifest, Broken> {
    if let Some(xml) = read_file("imsmanifest.xml") {
        return scorm(&parse("imsmanifest.xml", &xml)?, files);
    }
    if let Some(xml) = read_file("cmi5.xml") {
        return cmi5(&parse("cmi5.xml", &xml)?, files);
    }
    broken("the package has neither imsmanifest.xml (SCORM) nor cmi5.xml (cmi5) at its root")
}

fn file_exists(files: &HashSet<String>, url: &str) -> bool {
    if url.starts_with("http://") || url.starts_with("https://") {
        return true;
    }
    let path = &url[..url.find(['?', '#']).unwrap_or(url.len())];
    let decoded = percent_decode(path);
    files.contains(path) || files.contains(&decoded)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A course made of the manifest must fit authoring's limits; titles are already cut to
/// 200 characters, and identifiers and launch URLs must fit what an event carries.
fn within_limits(mut m: Manifest) -> Result<Manifest, Broken> {
    let items = m.items().count();
    if items > MAX_ITEMS {
        return broken(format!("the package has {items} launchable items; a course holds at most {MAX_ITEMS} lessons"));
    }
    if m.groups.len() > MAX_GROUPS {
        return broken(format!("the package makes {} modules; a course holds at most {MAX_GROUPS}", m.groups.len()));
    }
    for i in m.items() {
        if i.launch.len() > MAX_LAUNCH || i.item.chars().count() > MAX_TITLE {
            return broken(format!(
                "item `{}`: its identifier or launch URL is too long",
                i.item.chars().take(40).collect::<String>()
            ));
        }
    }
    for g in &mut m.groups {
        g.title = g.title.chars().take(MAX_TITLE).collect();
        for i in &mut g.items {
            i.title = i.title.chars().take(MAX_TITLE).collect();
        }
    }
    m.title = m.title.chars().take(MAX_TITLE).collect();
    Ok(m)
}

fn scorm(root: &El, files: &HashSet<String>) -> Result<Manifest, Broken> {
    if root.name != "manifest" {
        return broken(format!("imsmanifest.xml's root is <{}>, not <manifest>", root.name));
    }
    let version = root.child("metadata").and_then(|m| m.child("schemaversion")).map(|v| v.text.trim().to_owned());
    let standard = match version.as_deref() {
        Some("1.2") => "scorm_1.2",
        Some(v) if v.starts_with("2004") || v == "CAM 1.3" => "scorm_2004",
        Some(v) => return broken(format!("imsmanifest.xml's schemaversion `{v}` is not SCORM 1.2 or 2004")),
        // Without metadata: the adlcp namespace's version decides, SCORM 1.2 by default.
        None => "scorm_1.2",
    };
    let resources_el = root.child("resources").ok_or_else(|| Broken("imsmanifest.xml has no <resources>".into()))?;
    let mut resources: HashMap<&str, &El> = HashMap::new();
    for r in resources_el.all("resource") {
        let id = r.attr("identifier").ok_or_else(|| Broken("a <resource> has no identifier".into()))?;
        if resources.insert(id, r).is_some() {
            return broken(format!("two resources share the identifier `{id}`"));
        }
    }
    for r in resources.values() {
        for d in r.all("dependency") {
            let to = d.attr("identifierref").unwrap_or("");
            if !resources.contains_key(to) {
                return broken(format!(
                    "resource `{}` depends on `{to}`, which is not in <resources>",
                    r.attr("identifier").unwrap_or("")
                ));
            }
        }
    }
    let orgs = root.child("organizations").ok_or_else(|| Broken("imsmanifest.xml has no <organizations>".into()))?;
    let org = match orgs.attr("default") {
        Some(d) => orgs
            .all("organization")
            .find(|o| o.attr("identifier") == Some(d))
            .ok_or_else(|| Broken(format!("the default organization `{d}` is not in <organizations>")))?,
        None => orgs.child("organization").ok_or_else(|| Broken("imsmanifest.xml has no <organization>".into()))?,
    };
    let control = org.child("sequencing").and_then(|s| s.child("controlMode"));
    let choice = control.and_then(|c| c.attr("choice")).is_none_or(|v| v == "true");
    let flow = control.and_then(|c| c.attr("flow")).is_some_and(|v| v == "true");
    let title = org.title().unwrap_or_else(|| "Imported package".into());
    let base = root.attr("xml:base");
    let res_base = resources_el.attr("xml:base");

    let mut seen = HashSet::new();
    let launch_of = |item: &El| -> Result<Option<Item>, Broken> {
        let id = item.attr("identifier").ok_or_else(|| Broken("an <item> has no identifier".into()))?;
        let Some(rref) = item.attr("identifierref") else { return Ok(None) };
        let r = resources
            .get(rref)
            .ok_or_else(|| Broken(format!("item `{id}` refers to resource `{rref}`, which is not in <resources>")))?;
        let href =
            r.attr("href").ok_or_else(|| Broken(format!("resource `{rref}` (item `{id}`) has no href to launch")))?;
        let url = join(&[base, res_base, r.attr("xml:base")], href)?;
        if !file_exists(files, &url) {
            return broken(format!("item `{id}` launches `{url}`, which is not in the package"));
        }
        let kind = r.attr("scormtype").or_else(|| r.attr("scormType")).unwrap_or("asset").to_ascii_lowercase();
        let mastery = match item.child("masteryscore") {
            Some(m) => Some(
                m.text.trim().parse::<f64>().ok().filter(|v| (0.0..=100.0).contains(v)).ok_or_else(|| {
                    Broken(format!("item `{id}`: masteryscore `{}` is not a number from 0 to 100", m.text.trim()))
                })? / 100.0,
            ),
            None => item
                .child("sequencing")
                .and_then(|s| s.child("objectives"))
                .and_then(|o| o.child("primaryObjective"))
                .filter(|p| p.attr("satisfiedByMeasure") == Some("true"))
                .and_then(|p| p.child("minNormalizedMeasure"))
                .and_then(|m| m.text.trim().parse::<f64>().ok()),
        };
        Ok(Some(Item {
            item: id.to_owned(),
            title: item.title().unwrap_or_else(|| id.to_owned()),
            launch: with_parameters(&url, item.attr("parameters")),
            kind,
            mastery_score: mastery,
            au: None,
        }))
    };
    // Depth-first: an item with children is a group (its launchable descendants, in
    // order); top-level leaves gather under the organization's title.
    fn collect<'a>(
        el: &'a El,
        out: &mut Vec<Item>,
        seen: &mut HashSet<String>,
        launch_of: &dyn Fn(&El) -> Result<Option<Item>, Broken>,
    ) -> Result<(), Broken> {
        if let Some(id) = el.attr("identifier")
            && !seen.insert(id.to_owned())
        {
            return broken(format!("two items share the identifier `{id}`"));
        }
        if seen.len() > 5 * MAX_ITEMS {
            return broken(format!("the organization has more than {} items", 5 * MAX_ITEMS));
        }
        if let Some(i) = launch_of(el)? {
            out.push(i);
        }
        for c in el.all("item") {
            collect(c, out, seen, launch_of)?;
        }
        Ok(())
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut loose = Vec::new();
    for top in org.all("item") {
        if top.all("item").next().is_some() {
            let mut items = Vec::new();
            collect(top, &mut items, &mut seen, &launch_of)?;
            if !items.is_empty() {
                let t = top.title().unwrap_or_else(|| title.clone());
                groups.push(Group { title: t, items });
            }
        } else {
            collect(top, &mut loose, &mut seen, &launch_of)?;
            if !loose.is_empty() && groups.last().is_some_and(|g| g.title == title) {
                groups.last_mut().expect("checked").items.append(&mut loose);
            } else if !loose.is_empty() {
                groups.push(Group { title: title.clone(), items: std::mem::take(&mut loose) });
            }
        }
    }
    if groups.is_empty() {
        return broken("the organization has no item that launches anything");
    }
    within_limits(Manifest {
        standard: standard.into(),
        schema_version: version,
        title,
        groups,
        choice,
        flow,
        course_iri: None,
    })
}

/// cmi5 13.1.4: how an AU is satisfied.
const MOVE_ON: &[&str] = &["Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"];

/// Reads one AU (with the ids of the blocks enclosing it), remembering its id (ids are unique in a course structure).
type ReadAu<'a> = dyn Fn(&El, &[String], &mut HashSet<String>) -> Result<Item, Broken> + 'a;

fn cmi5(root: &El, files: &HashSet<String>) -> Result<Manifest, Broken> {
    if root.name != "courseStructure" {
        return broken(format!("cmi5.xml's root is <{}>, not <courseStructure>", root.name));
    }
    let course = root.child("course").ok_or_else(|| Broken("cmi5.xml has no <course>".into()))?;
    let title = course.title().unwrap_or_else(|| "Imported course".into());
    let mut seen = HashSet::new();
    // cmi5 13.1: the course, its blocks and AUs are identified by IRIs.
    let iri = |what: &str, id: Option<&str>| -> Result<String, Broken> {
        let id = id.ok_or_else(|| Broken(format!("{what} has no id")))?;
        if !mirai_kit::validated::Iri::is_absolute(id) {
            return broken(format!("{what}'s id `{id}` is not an absolute IRI"));
        }
        Ok(id.to_owned())
    };
    let course_iri = iri("the <course>", course.attr("id"))?;
    let au = |el: &El, blocks: &[String], seen: &mut HashSet<String>| -> Result<Item, Broken> {
        let id = &iri("an <au>", el.attr("id"))?;
        if !seen.insert(id.to_owned()) {
            return broken(format!("two AUs share the id `{id}`"));
        }
        if seen.len() > MAX_ITEMS {
            return broken(format!(
                "cmi5.xml has more than {MAX_ITEMS} AUs; a course holds at most {MAX_ITEMS} lessons"
            ));
        }
        let url = el.child("url").map(|u| u.text.trim()).filter(|u| !u.is_empty());
        let url = url.ok_or_else(|| Broken(format!("AU `{id}` has no <url>")))?;
        let launch = join(&[], url)?;
        if !file_exists(files, &launch) {
            return broken(format!("AU `{id}` launches `{launch}`, which is not in the package"));
        }
        // cmi5 8.1: the LMS adds these five to the URL; an AU's own would be ambiguous.
        if let Some((_, query)) = launch.split_once('?') {
            for pair in query.split('&') {
                let name = pair.split('=').next().unwrap_or("");
                if ["endpoint", "fetch", "actor", "registration", "activityId"].contains(&name) {
                    return broken(format!("AU `{id}`'s URL sets `{name}`, a parameter cmi5 sets at launch"));
                }
            }
        }
        let mastery = match el.attr("masteryScore") {
            Some(m) => Some(
                m.parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(|| Broken(format!("AU `{id}`: masteryScore `{m}` is not a number from 0 to 1")))?,
            ),
            None => None,
        };
        let move_on = el.attr("moveOn").unwrap_or("NotApplicable");
        if !MOVE_ON.contains(&move_on) {
            return broken(format!("AU `{id}`: moveOn `{move_on}` is not one of {}", MOVE_ON.join(", ")));
        }
        let launch_method = el.attr("launchMethod").unwrap_or("AnyWindow");
        if !["AnyWindow", "OwnWindow"].contains(&launch_method) {
            return broken(format!("AU `{id}`: launchMethod `{launch_method}` is not AnyWindow or OwnWindow"));
        }
        let text = |name: &str| el.child(name).map(|c| c.text.trim().to_owned()).filter(|t| !t.is_empty());
        let entitlement_key = el.child("entitlementKey").and_then(|k| {
            let t = k.text.trim();
            (!t.is_empty()).then(|| t.to_owned())
        });
        Ok(Item {
            item: id.to_owned(),
            title: el.title().unwrap_or_else(|| id.to_owned()),
            launch,
            kind: "au".into(),
            mastery_score: mastery,
            au: Some(Au {
                move_on: move_on.to_owned(),
                launch_method: launch_method.to_owned(),
                launch_parameters: text("launchParameters"),
                entitlement_key,
                blocks: blocks.to_vec(),
            }),
        })
    };
    fn walk(
        el: &El,
        path: &mut Vec<String>,
        out: &mut Vec<Item>,
        seen: &mut HashSet<String>,
        au: &ReadAu<'_>,
    ) -> Result<(), Broken> {
        let id = el.attr("id").ok_or_else(|| Broken("a <block> has no id".into()))?;
        if !mirai_kit::validated::Iri::is_absolute(id) {
            return broken(format!("a <block>'s id `{id}` is not an absolute IRI"));
        }
        if !seen.insert(id.to_owned()) {
            return broken(format!("two objects of the course structure share the id `{id}`"));
        }
        path.push(id.to_owned());
        for c in &el.children {
            match c.name.as_str() {
                "au" => out.push(au(c, path, seen)?),
                "block" => walk(c, path, out, seen, au)?,
                _ => {}
            }
        }
        path.pop();
        Ok(())
    }
    let mut groups = Vec::new();
    let mut loose = Vec::new();
    for c in &root.children {
        match c.name.as_str() {
            "au" => loose.push(au(c, &[], &mut seen)?),
            "block" => {
                let mut items = Vec::new();
                walk(c, &mut Vec::new(), &mut items, &mut seen, &au)?;
                if !loose.is_empty() {
                    groups.push(Group { title: title.clone(), items: std::mem::take(&mut loose) });
                }
                if !items.is_empty() {
                    groups.push(Group { title: c.title().unwrap_or_else(|| title.clone()), items });
                }
            }
            _ => {}
        }
    }
    if !loose.is_empty() {
        groups.push(Group { title: title.clone(), items: loose });
    }
    if groups.is_empty() {
        return broken("cmi5.xml has no <au>");
    }
    let course_iri = Some(course_iri);
    within_limits(Manifest {
        standard: "cmi5".into(),
        schema_version: None,
        title,
        groups,
        choice: true,
        flow: false,
        course_iri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_base_and_parameters_resolve_inside_the_package() {
        assert_eq!(join(&[Some("course/"), Some("sco1")], "index.html").unwrap(), "course/sco1/index.html");
        assert_eq!(join(&[Some("a/b/")], "../c.html?x=1").unwrap(), "a/c.html?x=1");
        assert!(join(&[Some("a/")], "../../etc/passwd").is_err());
        assert_eq!(with_parameters("a.html", Some("?lesson=2")), "a.html?lesson=2");
        assert_eq!(with_parameters("a.html?x=1", Some("?lesson=2")), "a.html?x=1&lesson=2");
        assert_eq!(with_parameters("a.html", Some("#p3")), "a.html#p3");
        assert_eq!(percent_decode("my%20page.html"), "my page.html");
    }
}
