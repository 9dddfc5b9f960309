//! `multipart/mixed` for statements with attachments (Communication 1.5.2): the first
//! part is the statement JSON, each further part one attachment's raw content with its
//! `X-Experience-API-Hash` (the attachment's `sha2`) and `Content-Transfer-Encoding: binary`.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// A part's headers, names lower-cased.
type Headers = Vec<(String, String)>;

/// One attachment's content as received.
#[derive(Debug, Clone)]
pub struct Part {
    pub content_type: String,
    pub sha2: String,
    pub content: Vec<u8>,
}

/// The boundary parameter of a `multipart/mixed` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// The SHA-2 digest (by length: 256, 384 or 512) of `content`, hex.
pub fn sha2_like(expected: &str, content: &[u8]) -> Option<String> {
    Some(match expected.len() {
        64 => hex::encode(Sha256::digest(content)),
        96 => hex::encode(Sha384::digest(content)),
        128 => hex::encode(Sha512::digest(content)),
        _ => return None,
    })
}

/// Splits a multipart body into the statement JSON and the attachment parts, checking
/// each part's declared hash against its content.
pub fn parse(body: &[u8], boundary: &str) -> Result<(Vec<u8>, Vec<Part>), String> {
    let delim = format!("--{boundary}");
    let mut pos = find(body, delim.as_bytes(), 0).ok_or("multipart body has no opening boundary")?;
    let mut parts: Vec<(Headers, Vec<u8>)> = vec![];
    loop {
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            break;
        }
        // Skip the CRLF after the boundary line.
        pos = find(body, b"\r\n", pos).ok_or("malformed multipart boundary line")? + 2;
        let header_end = find(body, b"\r\n\r\n", pos).ok_or("a multipart part has no header end")?;
        let headers: Headers = String::from_utf8_lossy(&body[pos..header_end])
            .split("\r\n")
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())))
            .collect();
        let content_start = header_end + 4;
        let next =
            find(body, format!("\r\n{delim}").as_bytes(), content_start).ok_or("a multipart part is not terminated")?;
        parts.push((headers, body[content_start..next].to_vec()));
        pos = next + 2;
    }
    let mut it = parts.into_iter();
    let (first_headers, statements) = it.next().ok_or("multipart body has no parts")?;
    let ct = first_headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()).unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err("the first part of a multipart statement request must be application/json".into());
    }
    let mut out = vec![];
    for (headers, content) in it {
        let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let sha2 =
            get("x-experience-api-hash").ok_or("every attachment part needs X-Experience-API-Hash")?.to_lowercase();
        if !get("content-transfer-encoding").is_some_and(|e| e.eq_ignore_ascii_case("binary")) {
            return Err("attachment parts must have Content-Transfer-Encoding: binary".into());
        }
        if sha2_like(&sha2, &content).as_deref() != Some(sha2.as_str()) {
            return Err(format!("attachment part's content does not match its X-Experience-API-Hash {sha2}"));
        }
        out.push(Part {
            content_type: get("content-type").unwrap_or_else(|| "application/octet-stream".into()),
            sha2,
            content,
        });
    }
    Ok((statements, out))
}

/// Builds a `multipart/mixed` body: the JSON first, then each attachment.
pub fn build(json: &[u8], parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = format!("mirai-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n").as_bytes());
    out.extend_from_slice(json);
    for p in parts {
        out.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {}\r\n\r\n",
                p.content_type, p.sha2
            )
            .as_bytes(),
        );
        out.extend_from_slice(&p.content);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hash_check() {
        let part = Part {
            content_type: "text/plain".into(),
            sha2: hex::encode(Sha256::digest(b"hello")),
            content: b"hello".to_vec(),
        };
        let (ct, body) = build(br#"{"a":1}"#, std::slice::from_ref(&part));
        let (json, parts) = parse(&body, &boundary(&ct).unwrap()).unwrap();
        assert_eq!(json, br#"{"a":1}"#);
        assert_eq!(parts[0].content, b"hello");
        let tampered = String::from_utf8(body).unwrap().replace("hello", "HELLO");
        assert!(parse(tampered.as_bytes(), &boundary(&ct).unwrap()).unwrap_err().contains("does not match"));
    }
}
