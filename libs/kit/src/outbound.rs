//! URLs a tenant gives a service to call (a model provider, a webhook endpoint): checked
//! once, when they are saved. Never link-local (cloud metadata at 169.254.169.254, also
//! as an IPv4-mapped IPv6 address), unspecified or multicast; with `block_private` (the
//! chart's default) never loopback, private, CGNAT, single-label, `.local`, `.internal`
//! or `localhost`, so a tenant cannot aim the service at the cluster's insides. Names that
//! resolve to private addresses are not caught here; the chart's egress policy is the
//! second line.

use std::net::IpAddr;

use crate::AppError;

/// The URL, normalized (no trailing `/`), or a validation problem on `field`.
/// `query_ok`: whether a query string is allowed (a webhook URL may carry one; a base
/// URL, to which paths are appended, may not).
pub fn check_url(field: &str, raw: &str, block_private: bool, query_ok: bool) -> Result<String, AppError> {
    let bad = |m: &str| AppError::invalid(field, m.to_owned());
    let url = url::Url::parse(raw.trim()).map_err(|_| bad("must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("must be an absolute http(s) URL"));
    }
    if raw.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad("must not carry credentials or a fragment"));
    }
    if !query_ok && url.query().is_some() {
        return Err(bad("must not carry a query"));
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    if let Ok(ip) = host.parse::<IpAddr>() {
        if let Some(why) = refusal(ip, block_private) {
            return Err(bad(why));
        }
    } else if block_private && {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        h == "localhost"
            || h.ends_with(".localhost")
            || h.ends_with(".local")
            || h.ends_with(".internal")
            || !h.contains('.')
    } {
        return Err(bad("private and loopback addresses are not allowed here"));
    }
    Ok(if url.query().is_some() { url.to_string() } else { url.as_str().trim_end_matches('/').to_owned() })
}

/// Why an address may not be called: never link-local (cloud metadata), unspecified or
/// multicast; with `block_private`, never loopback, private (RFC 1918, ULA) or CGNAT.
pub fn refusal(ip: IpAddr, block_private: bool) -> Option<&'static str> {
    let ip = ip.to_canonical();
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local || ip.is_unspecified() || ip.is_multicast() {
        return Some("must not be a link-local, unspecified or multicast address");
    }
    let private = ip.is_loopback()
        || match ip {
            IpAddr::V4(v4) => v4.is_private() || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
    (block_private && private).then_some("private and loopback addresses are not allowed here")
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn metadata_private_and_odd_urls_are_refused() {
        for (url, block) in [
            ("http://169.254.169.254/latest", false),
            ("http://[::ffff:169.254.169.254]/", false),
            ("http://0.0.0.0/", false),
            ("ftp://example.com/", false),
            ("https://user:pw@example.com/", false),
            ("https://example.com/#x", false),
            ("http://127.0.0.1:9000/", true),
            ("http://10.1.2.3/", true),
            ("http://100.64.0.1/", true),
            ("http://svc.internal/", true),
            ("http://intranet/", true),
            ("http://[fd00::1]/", true),
        ] {
            assert!(check_url("url", url, block, true).is_err(), "{url} (block_private {block})");
        }
        assert!(check_url("url", "https://api.example.com/v1?x=1", true, false).is_err());
        assert_eq!(check_url("url", "https://api.example.com/v1/", true, false).unwrap(), "https://api.example.com/v1");
        assert_eq!(
            check_url("url", "http://127.0.0.1:9/hook?a=1", false, true).unwrap(),
            "http://127.0.0.1:9/hook?a=1"
        );
    }
}
