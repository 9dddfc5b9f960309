//! A published course version as a SCORM 1.2 package: `imsmanifest.xml` (IMS CP 1.1.2
//! with ADL's SCORM 1.2 extensions) with an organization of the course's modules and one
//! SCO per lesson; each lesson an HTML page that finds the LMS's API in its frames,
//! reports `completed` and finishes; media files the lessons show, under `media/`.

use std::io::{Cursor, Write};

use mirai_contracts::events::authoring::OutlineModule;
use zip::{ZipWriter, write::SimpleFileOptions};

/// What goes into the package.
pub struct Course<'a> {
    pub course_id: uuid::Uuid,
    pub version: i32,
    pub title: &'a str,
    pub locale: &'a str,
    pub outline: &'a [OutlineModule],
    /// Media the lessons show: `(asset id, file name inside media/, bytes)`.
    pub media: Vec<(uuid::Uuid, String, bytes::Bytes)>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// The SCORM 1.2 runtime glue every lesson loads: find `API` in the parent or opener
/// frames (the search of the SCORM 1.2 RTE), initialize, mark the lesson completed,
/// commit, and finish when the page goes away.
const SCORM_JS: &str = r#"(function () {
  function find(win) {
    var tries = 0;
    while (win && !win.API && win.parent && win.parent !== win && tries++ < 500) win = win.parent;
    return win && win.API ? win.API : null;
  }
  var api = find(window) || (window.opener ? find(window.opener) : null);
  var finished = false;
  function finish() {
    if (!api || finished) return;
    finished = true;
    api.LMSCommit("");
    api.LMSFinish("");
  }
  window.addEventListener("load", function () {
    if (!api) return;
    api.LMSInitialize("");
    var status = api.LMSGetValue("cmi.core.lesson_status");
    if (status !== "completed" && status !== "passed") api.LMSSetValue("cmi.core.lesson_status", "completed");
    api.LMSCommit("");
  });
  window.addEventListener("pagehide", finish);
  window.addEventListener("beforeunload", finish);
})();
"#;

fn lesson_page(c: &Course<'_>, title: &str, blocks: &[mirai_contracts::events::authoring::OutlineBlock]) -> String {
    let mut body = String::new();
    for b in blocks {
        let media = b.media_id.and_then(|m| {
            let m: uuid::Uuid = m.into();
            c.media.iter().find(|(id, _, _)| *id == m).map(|(_, name, _)| format!("../media/{name}"))
        });
        match (b.kind.as_str(), media) {
            ("image", Some(src)) => {
                body.push_str(&format!("<figure><img src=\"{}\" alt=\"{}\"></figure>\n", esc(&src), esc(&b.text)))
            }
            ("video", Some(src)) => body.push_str(&format!(
                "<figure><video controls src=\"{}\"></video><figcaption>{}</figcaption></figure>\n",
                esc(&src),
                esc(&b.text)
            )),
            ("file", Some(src)) => {
                body.push_str(&format!("<p><a href=\"{}\" download>{}</a></p>\n", esc(&src), esc(&b.text)))
            }
            ("code", _) => body.push_str(&format!("<pre><code>{}</code></pre>\n", esc(&b.text))),
            ("callout", _) => body.push_str(&format!("<aside><p>{}</p></aside>\n", esc(&b.text))),
            ("quiz", _) => body.push_str("<p><em>This lesson's quiz is taken in Mirai.</em></p>\n"),
            ("package", _) => body.push_str(&format!(
                "<p><em>{} — an interactive activity, launched in Mirai.</em></p>\n",
                esc(if b.text.is_empty() { "Activity" } else { &b.text })
            )),
            _ if b.text.is_empty() => {}
            _ => body.push_str(&format!("<p>{}</p>\n", esc(&b.text))),
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <script src=\"../shared/scorm12.js\"></script>\n</head>\n<body>\n<h1>{}</h1>\n{body}</body>\n</html>\n",
        esc(c.locale),
        esc(title),
        esc(title)
    )
}

/// Builds the zip.
pub fn scorm12(c: &Course<'_>) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut items = String::new();
    let mut resources = String::new();
    let mut n = 0;
    for (mi, m) in c.outline.iter().enumerate() {
        items.push_str(&format!(
            "      <item identifier=\"MODULE_{}\">\n        <title>{}</title>\n",
            mi + 1,
            esc(&m.title)
        ));
        for l in &m.lessons {
            n += 1;
            let href = format!("lessons/lesson-{n}.html");
            zip.start_file(&href, opts)?;
            zip.write_all(lesson_page(c, &l.title, &l.blocks).as_bytes())?;
            items.push_str(&format!(
                "        <item identifier=\"ITEM_{n}\" identifierref=\"RES_{n}\" isvisible=\"true\">\n          <title>{}</title>\n        </item>\n",
                esc(&l.title)
            ));
            let mut files = format!("      <file href=\"{href}\"/>\n");
            for b in &l.blocks {
                if let Some(m) = b.media_id {
                    let m: uuid::Uuid = m.into();
                    if let Some((_, name, _)) = c.media.iter().find(|(id, _, _)| *id == m) {
                        files.push_str(&format!("      <file href=\"media/{}\"/>\n", esc(name)));
                    }
                }
            }
            resources.push_str(&format!(
                "    <resource identifier=\"RES_{n}\" type=\"webcontent\" adlcp:scormtype=\"sco\" href=\"{href}\">\n{files}      <dependency identifierref=\"SHARED\"/>\n    </resource>\n"
            ));
        }
        items.push_str("      </item>\n");
    }
    for (_, name, bytes) in &c.media {
        zip.start_file(format!("media/{name}"), stored)?;
        zip.write_all(bytes)?;
    }
    zip.start_file("shared/scorm12.js", opts)?;
    zip.write_all(SCORM_JS.as_bytes())?;
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="MIRAI_{course}_V{version}" version="{version}"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.imsproject.org/xsd/imscp_rootv1p1p2 imscp_rootv1p1p2.xsd http://www.imsglobal.org/xsd/imsmd_rootv1p2p1 imsmd_rootv1p2p1.xsd http://www.adlnet.org/xsd/adlcp_rootv1p2 adlcp_rootv1p2.xsd">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
  </metadata>
  <organizations default="ORG">
    <organization identifier="ORG">
      <title>{title}</title>
{items}    </organization>
  </organizations>
  <resources>
{resources}    <resource identifier="SHARED" type="webcontent" adlcp:scormtype="asset">
      <file href="shared/scorm12.js"/>
    </resource>
  </resources>
</manifest>
"#,
        course = c.course_id.simple(),
        version = c.version,
        title = esc(c.title),
    );
    zip.start_file("imsmanifest.xml", opts)?;
    zip.write_all(manifest.as_bytes())?;
    Ok(zip.finish()?.into_inner())
}
