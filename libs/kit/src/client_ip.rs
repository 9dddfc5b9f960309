//! Who the client is behind the edge. Every request's peer is Kong (or a load balancer),
//! so anything keyed on the client — login throttling, audit, rate limits — uses the
//! address this module derives: when the peer is a trusted proxy (`MIRAI_TRUSTED_PROXIES`),
//! the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy; otherwise
//! the peer. Entries left of the first untrusted one are whatever the client claimed and
//! are never believed.

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, request::Parts},
    middleware::Next,
    response::Response,
};
use ipnet::IpNet;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|ip| Self(IpNet::from(ip)))
            .map_err(|_| format!("`{s}` is not an address or a CIDR range like 10.0.0.0/8"))
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The request's client address (see the module docs). Requests served without a peer
/// (in-process tests) have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Derives the client address from the peer and its `X-Forwarded-For` headers.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list (RFC 7230 §3.2.2), split on raw
    // bytes: a non-ASCII byte a client put in its own entry must not hide the entry the
    // proxy appended to the same value (it becomes garbage where it stands).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|hop| std::str::from_utf8(hop).map(str::trim).unwrap_or("\u{fffd}"))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip,
            // Garbage where an address should be: stop believing the header here.
            None => return client,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, optionally `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// Middleware: puts the request's [`ClientIp`] into its extensions.
pub async fn layer(State(trusted): State<Arc<[Cidr]>>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = peer.map(|p| client_ip(p, req.headers(), &trusted));
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().copied().unwrap_or(ClientIp(None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_are_believed_and_the_rightmost_untrusted_hop_wins() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        // An untrusted peer's header is ignored.
        assert_eq!(client_ip(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted), ip("203.0.113.9"));
        // Behind Kong: the client Kong saw.
        assert_eq!(client_ip(ip("10.1.2.3"), &headers(&["198.51.100.7"]), &trusted), ip("198.51.100.7"));
        // A client-forged prefix is skipped: the rightmost untrusted hop is the client.
        assert_eq!(
            client_ip(ip("10.1.2.3"), &headers(&["6.6.6.6, 198.51.100.7, 10.9.9.9"]), &trusted),
            ip("198.51.100.7")
        );
        // Several headers read as one list; ports and IPv4-mapped addresses are understood.
        assert_eq!(
            client_ip(ip("::ffff:10.1.2.3"), &headers(&["6.6.6.6", "198.51.100.7:5123"]), &trusted),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last trusted hop; no header means the peer.
        assert_eq!(client_ip(ip("10.1.2.3"), &headers(&["nonsense, 10.4.4.4"]), &trusted), ip("10.4.4.4"));
        assert_eq!(client_ip(ip("10.1.2.3"), &headers(&[]), &trusted), ip("10.1.2.3"));
        // With no trusted proxies configured, the header never matters.
        assert_eq!(client_ip(ip("10.1.2.3"), &headers(&["198.51.100.7"]), &[]), ip("10.1.2.3"));
        assert!("300.0.0.0/8".parse::<Cidr>().is_err());
        // A non-ASCII byte in the client's own entry does not hide the hop Kong appended.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", axum::http::HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.7").unwrap());
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &trusted), ip("198.51.100.7"));
    }
}
