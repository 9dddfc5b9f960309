//! Package shapes seen in the wild, built in memory: a multi-SCO SCORM 1.2 course with
//! nested items, shared dependencies, `xml:base` at three levels and launch parameters;
//! a SCORM 2004 4th edition course with sequencing; a cmi5 course with blocks; and the
//! broken and hostile ones, each with the reason its refusal must give.

use std::io::Write;

use super::zip_of;

pub const GOLF_MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.scorm.golfsamples.contentpackaging.multisco.12" version="1"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xml:base="content/">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
  </metadata>
  <organizations default="golf_sample_default_org">
    <organization identifier="golf_sample_default_org">
      <title>Golf Explained</title>
      <item identifier="playing_group">
        <title>Playing the Game</title>
        <item identifier="playing_item" identifierref="playing_resource" parameters="?lesson=1">
          <title>How to play</title>
          <adlcp:masteryscore>80</adlcp:masteryscore>
        </item>
        <item identifier="par_item" identifierref="par_resource">
          <title>Par</title>
        </item>
      </item>
      <item identifier="etiquette_group">
        <title>Etiquette</title>
        <item identifier="etiquette_item" identifierref="etiquette_resource" parameters="x=1">
          <title>Etiquette rules</title>
        </item>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="playing_resource" type="webcontent" adlcp:scormtype="sco" xml:base="playing/" href="Playing.html">
      <file href="Playing.html"/>
      <dependency identifierref="common_files"/>
    </resource>
    <resource identifier="par_resource" type="webcontent" adlcp:scormtype="sco" xml:base="playing/" href="Par.html">
      <file href="Par.html"/>
      <dependency identifierref="common_files"/>
    </resource>
    <resource identifier="etiquette_resource" type="webcontent" adlcp:scormtype="sco" xml:base="etiquette/" href="Course.html?part=2">
      <file href="Course.html"/>
      <dependency identifierref="common_files"/>
    </resource>
    <resource identifier="common_files" type="webcontent" adlcp:scormtype="asset">
      <file href="shared/scormfunctions.js"/>
      <file href="shared/style.css"/>
    </resource>
  </resources>
</manifest>
"#;

pub fn scorm12_golf() -> Vec<u8> {
    zip_of(&[
        ("imsmanifest.xml", GOLF_MANIFEST.as_bytes()),
        ("content/playing/Playing.html", b"<html><body>Golf is played on a course of 18 holes.</body></html>"),
        ("content/playing/Par.html", b"<html><body>Par is the expected number of strokes.</body></html>"),
        ("content/etiquette/Course.html", b"<html><body>Do not walk in another player's line.</body></html>"),
        ("content/shared/scormfunctions.js", b"function doLMSInitialize(){}"),
        ("content/shared/style.css", b"body{font-family:sans-serif}"),
    ])
}

pub fn scorm2004() -> Vec<u8> {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.seq" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="ORG">
    <organization identifier="ORG" adlseq:objectivesGlobalToSystem="false">
      <title>Photo Basics</title>
      <item identifier="exposure" identifierref="R_EXPOSURE">
        <title>Exposure</title>
        <imsss:sequencing>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="exposure" satisfiedByMeasure="true">
              <imsss:minNormalizedMeasure>0.75</imsss:minNormalizedMeasure>
            </imsss:primaryObjective>
          </imsss:objectives>
        </imsss:sequencing>
      </item>
      <item identifier="glossary" identifierref="R_GLOSSARY"><title>Glossary</title></item>
      <imsss:sequencing><imsss:controlMode choice="false" flow="true"/></imsss:sequencing>
    </organization>
  </organizations>
  <resources>
    <resource identifier="R_EXPOSURE" type="webcontent" adlcp:scormType="sco" href="exposure/index.html">
      <file href="exposure/index.html"/>
    </resource>
    <resource identifier="R_GLOSSARY" type="webcontent" adlcp:scormType="asset" href="glossary.html">
      <file href="glossary.html"/>
    </resource>
  </resources>
</manifest>"#;
    zip_of(&[
        ("imsmanifest.xml", manifest.as_bytes()),
        ("exposure/index.html", b"<html>Aperture, shutter, ISO.</html>"),
        ("glossary.html", b"<html>Words.</html>"),
    ])
}

pub fn cmi5() -> Vec<u8> {
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/courses/knots">
    <title><langstring lang="en-US">Knots</langstring></title>
    <description><langstring lang="en-US">Tie them.</langstring></description>
  </course>
  <au id="https://example.com/au/1" moveOn="Completed">
    <title><langstring lang="en-US">Square knot</langstring></title>
    <url>au1/index.html</url>
  </au>
  <block id="https://example.com/block/adv">
    <title><langstring lang="en-US">Advanced</langstring></title>
    <au id="https://example.com/au/2" moveOn="Passed" masteryScore="0.9">
      <title><langstring lang="en-US">Bowline</langstring></title>
      <url>au2/index.html?mode=full</url>
    </au>
  </block>
</courseStructure>"#;
    zip_of(&[
        ("cmi5.xml", xml.as_bytes()),
        ("au1/index.html", b"<html>1</html>"),
        ("au2/index.html", b"<html>2</html>"),
    ])
}

fn cmi5_with(structure: &str) -> Vec<u8> {
    let xml = format!(
        r#"<courseStructure><course id="https://e.x/c"><title><langstring>C</langstring></title></course>{structure}</courseStructure>"#
    );
    zip_of(&[("cmi5.xml", xml.as_bytes()), ("a.html", b"x")])
}

fn golf_with(manifest: &str) -> Vec<u8> {
    zip_of(&[
        ("imsmanifest.xml", manifest.as_bytes()),
        ("content/playing/Playing.html", b"x"),
        ("content/playing/Par.html", b"x"),
        ("content/etiquette/Course.html", b"x"),
        ("content/shared/scormfunctions.js", b"x"),
        ("content/shared/style.css", b"x"),
    ])
}

/// `(what, zip, a phrase its refusal must contain)`.
pub fn broken() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let ok = GOLF_MANIFEST.as_bytes();
    let symlink = {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("imsmanifest.xml", o).unwrap();
        z.write_all(ok).unwrap();
        z.add_symlink("content/playing/Playing.html", "/etc/passwd", o).unwrap();
        z.finish().unwrap().into_inner()
    };
    let zeros = vec![0u8; 8 << 20];
    let small_zeros = vec![0u8; 1 << 20];
    let many: Vec<(String, &[u8])> = (0..70).map(|i| (format!("pad/{i}.bin"), small_zeros.as_slice())).collect();
    let mut many_files: Vec<(&str, &[u8])> = vec![("imsmanifest.xml", ok)];
    many_files.extend(many.iter().map(|(n, b)| (n.as_str(), *b)));
    vec![
        ("path traversal", zip_of(&[("imsmanifest.xml", ok), ("../../evil.html", b"x")]), "path traversal"),
        ("absolute path", zip_of(&[("imsmanifest.xml", ok), ("/etc/cron.d/evil", b"x")]), "path traversal"),
        ("windows traversal", zip_of(&[("imsmanifest.xml", ok), ("..\\evil.html", b"x")]), "path traversal"),
        ("symbolic link", symlink, "symbolic link"),
        ("zip bomb", zip_of(&[("imsmanifest.xml", ok), ("bomb.bin", &zeros)]), "zip bomb"),
        ("many small files that add up to a bomb", zip_of(&many_files), "zip bomb"),
        ("not a zip", b"PK but not really a zip archive".to_vec(), "not a readable zip archive"),
        (
            "NUL in a title",
            golf_with(&GOLF_MANIFEST.replace("<title>Par</title>", "<title>P\0ar</title>")),
            "control character",
        ),
        (
            "a huge attribute",
            golf_with(&GOLF_MANIFEST.replace("parameters=\"x=1\"", &format!("parameters=\"{}\"", "x".repeat(3000)))),
            "longer than 2048 bytes",
        ),
        ("no manifest", zip_of(&[("index.html", b"<html></html>")]), "neither imsmanifest.xml"),
        ("malformed XML", golf_with("<manifest><organizations></manifest>"), "not well-formed"),
        ("DOCTYPE", golf_with("<!DOCTYPE manifest [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><manifest/>"), "DOCTYPE"),
        (
            "missing resource",
            golf_with(&GOLF_MANIFEST.replace("identifierref=\"par_resource\"", "identifierref=\"nope\"")),
            "`nope`, which is not in <resources>",
        ),
        (
            "launch file missing",
            golf_with(&GOLF_MANIFEST.replace("href=\"Par.html\"", "href=\"Missing.html\"")),
            "which is not in the package",
        ),
        (
            "dependency missing",
            golf_with(
                &GOLF_MANIFEST
                    .replace("<dependency identifierref=\"common_files\"/>", "<dependency identifierref=\"gone\"/>"),
            ),
            "depends on `gone`",
        ),
        (
            "no organizations",
            golf_with(
                &GOLF_MANIFEST
                    .replace("<organizations", "<organisations")
                    .replace("</organizations>", "</organisations>"),
            ),
            "no <organizations>",
        ),
        (
            "missing default organization",
            golf_with(&GOLF_MANIFEST.replace("default=\"golf_sample_default_org\"", "default=\"other\"")),
            "default organization `other`",
        ),
        ("bad mastery score", golf_with(&GOLF_MANIFEST.replace(">80<", ">high<")), "masteryscore `high`"),
        (
            "base climbing out",
            golf_with(&GOLF_MANIFEST.replace("xml:base=\"content/\"", "xml:base=\"../../\"")),
            "outside the package",
        ),
        (
            "AU without url",
            cmi5_with(r#"<au id="https://e.x/a"><title><langstring>A</langstring></title></au>"#),
            "has no <url>",
        ),
        ("AU id not an IRI", cmi5_with(r#"<au id="a"><url>a.html</url></au>"#), "not an absolute IRI"),
        (
            "unknown moveOn",
            cmi5_with(r#"<au id="https://e.x/a" moveOn="Attended"><url>a.html</url></au>"#),
            "moveOn `Attended`",
        ),
        (
            "a launch parameter of cmi5's own",
            cmi5_with(r#"<au id="https://e.x/a"><url>a.html?fetch=x</url></au>"#),
            "sets `fetch`, a parameter cmi5 sets",
        ),
        (
            "two blocks share an id",
            cmi5_with(
                r#"<block id="https://e.x/b"><au id="https://e.x/a"><url>a.html</url></au></block><block id="https://e.x/b"><au id="https://e.x/c"><url>a.html</url></au></block>"#,
            ),
            "share the id",
        ),
    ]
}
