//! The manifest's XML as a small tree, parsed with quick-xml: elements by local name
//! (namespace prefixes dropped, `xml:base` kept), attributes, text. What a manifest must
//! not be — not well-formed, a DOCTYPE, too deep, too large, control characters — is a
//! [`Broken`] naming it.

use std::collections::HashMap;

use quick_xml::events::Event;

use super::{Broken, MAX_TITLE, broken};

/// An element: its local name (namespace prefix dropped), attributes by local name
/// (`xml:base` keeps its prefix), children and text.
#[derive(Debug, Default)]
pub(super) struct El {
    pub(super) name: String,
    pub(super) attrs: HashMap<String, String>,
    pub(super) children: Vec<El>,
    pub(super) text: String,
}

impl El {
    pub(super) fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }
    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str).map(str::trim).filter(|v| !v.is_empty())
    }
    /// The text of `<title>`, or of a cmi5 `<title><langstring>`.
    pub(super) fn title(&self) -> Option<String> {
        let t = self.child("title")?;
        let text = t.child("langstring").map(|l| l.text.trim()).unwrap_or(t.text.trim());
        (!text.is_empty()).then(|| text.chars().take(MAX_TITLE).collect())
    }
}

const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 100_000;
/// The longest attribute value (an href, an xml:base, parameters, an identifier).
const MAX_ATTRIBUTE: usize = 2048;
/// The most text one element holds.
const MAX_TEXT: usize = 64 * 1024;

/// Text a manifest may hold: no control characters but tab, newline and return (the
/// database stores no NUL, and nothing legitimate needs the rest).
fn clean(file: &str, what: &str, s: &str, max: usize) -> Result<(), Broken> {
    if s.len() > max {
        return broken(format!("{file}: {what} is longer than {max} bytes"));
    }
    if s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return broken(format!("{file}: {what} holds a control character"));
    }
    Ok(())
}

/// Parses XML into a tree; not well-formed is a [`Broken`] with the position.
pub(super) fn parse(file: &str, xml: &[u8]) -> Result<El, Broken> {
    let text = std::str::from_utf8(xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml))
        .map_err(|e| Broken(format!("{file} is not UTF-8 (byte {})", e.valid_up_to())))?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<El> = vec![El::default()];
    let mut count = 0usize;
    let bad = |r: &quick_xml::Reader<&[u8]>, e: &dyn std::fmt::Display| {
        Broken(format!("{file} is not well-formed XML at byte {}: {e}", r.buffer_position()))
    };
    loop {
        let event = reader.read_event().map_err(|e| bad(&reader, &e))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() > MAX_DEPTH {
                    return broken(format!("{file} is too large or too deeply nested"));
                }
                let mut el =
                    El { name: String::from_utf8_lossy(s.local_name().as_ref()).into_owned(), ..El::default() };
                for a in s.attributes() {
                    let a = a.map_err(|e| bad(&reader, &e))?;
                    let key = a.key;
                    let name = match key.prefix() {
                        Some(p) if p.as_ref() == b"xml" => {
                            format!("xml:{}", String::from_utf8_lossy(key.local_name().as_ref()))
                        }
                        Some(p) if p.as_ref() == b"xmlns" => continue,
                        _ if key.as_ref() == b"xmlns" => continue,
                        _ => String::from_utf8_lossy(key.local_name().as_ref()).into_owned(),
                    };
                    let value = a.unescape_value().map_err(|e| bad(&reader, &e))?.into_owned();
                    clean(file, &format!("attribute `{name}`"), &value, MAX_ATTRIBUTE)?;
                    el.attrs.insert(name, value);
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    stack.last_mut().expect("the root holder").children.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().expect("quick-xml checks end names");
                stack.last_mut().ok_or_else(|| Broken(format!("{file}: unbalanced elements")))?.children.push(el);
            }
            Event::Text(t) => {
                let s = t.xml_content().map_err(|e| bad(&reader, &e))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                    clean(file, &format!("the text of <{}>", top.name), &top.text, MAX_TEXT)?;
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                    clean(file, &format!("the text of <{}>", top.name), &top.text, MAX_TEXT)?;
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| bad(&reader, &e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| bad(&reader, &e))?;
                        quick_xml::escape::resolve_xml_entity(&name)
                            .ok_or_else(|| Broken(format!("{file}: unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::DocType(_) => return broken(format!("{file}: a DOCTYPE is not accepted in a manifest")),
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return broken(format!(
            "{file} is not well-formed XML: it ends inside <{}>",
            stack.last().map_or("", |e| &e.name)
        ));
    }
    let mut holder = stack.pop().expect("one holder");
    if holder.children.len() != 1 {
        return broken(format!("{file} must have exactly one root element"));
    }
    Ok(holder.children.remove(0))
}
