//! Which peers may tell us who the client is: `RELAY_TRUSTED_PROXIES` (comma-separated IPs
//! and CIDRs) and the rule that reads `X-Forwarded-For` / `X-Forwarded-Proto` through it.
//!
//! Pure: it parses the setting and decides from a peer address and header values. It does
//! not touch requests (`http::client` does) and is used for logging only: no access
//! decision rests on a forwarded address, because a header is only as honest as the
//! proxy that set it.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The configured trusted proxies; empty (the default) believes no forwarded header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// Who the client is, as far as we may believe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// The scheme the client used: `https` when the relay terminates TLS itself, or what
    /// a trusted proxy said in `X-Forwarded-Proto`; `http` otherwise.
    pub https: bool,
}

impl TrustedProxies {
    /// Parses `10.0.0.1, 10.1.0.0/16, ::1`; blank parts are skipped.
    ///
    /// # Errors
    /// A part that is neither an IP address nor a CIDR, in a sentence naming it.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let nets = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("`{part}` is neither an IP address nor a CIDR like 10.0.0.0/8")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies { nets })
    }

    /// Whether `ip` is one of the trusted proxies.
    #[must_use]
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`. `forwarded_for` are the `X-Forwarded-For` header values in
    /// order, `forwarded_proto` the `X-Forwarded-Proto` ones; `tls` says whether the
    /// relay itself terminated TLS on this connection.
    ///
    /// Only a trusted peer's headers count. Walking `X-Forwarded-For` from its right end
    /// (the hop nearest to us), trusted proxies are skipped and the first other address is
    /// the client: everything left of it was written by parties we do not trust. An entry
    /// that does not parse stops the walk at the last address we could believe.
    #[must_use]
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        tls: bool,
        forwarded_for: impl IntoIterator<Item = &'a str>,
        forwarded_proto: impl IntoIterator<Item = &'a str>,
    ) -> Client {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return Client {
                ip: peer,
                https: tls,
            };
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        let mut ip = peer;
        for hop in hops.iter().rev() {
            let Some(addr) = parse_hop(hop) else { break };
            ip = addr;
            if !self.trusts(addr) {
                break;
            }
        }
        // The last value is the one our own (trusted) proxy appended or set.
        let https = forwarded_proto
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .last()
            .map_or(tls, |proto| proto.eq_ignore_ascii_case("https"));
        Client { ip, https }
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) as IPv4, so
/// `10.0.0.0/8` matches them.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[track_caller]
    fn check(trusted: &str, peer: &str, xff: &[&str], proto: &[&str], want: (&str, bool)) {
        let proxies = TrustedProxies::parse(trusted).unwrap();
        let got = proxies.client(ip(peer), false, xff.iter().copied(), proto.iter().copied());
        assert_eq!(
            got,
            Client {
                ip: ip(want.0),
                https: want.1
            }
        );
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        // Nobody trusted: the headers are ignored.
        check(
            "",
            "203.0.113.9",
            &["1.1.1.1"],
            &["https"],
            ("203.0.113.9", false),
        );
        // An untrusted peer cannot claim to be a proxy.
        check(
            "10.0.0.1",
            "203.0.113.9",
            &["1.1.1.1"],
            &["https"],
            ("203.0.113.9", false),
        );
        // A trusted proxy: its client.
        check(
            "10.0.0.1",
            "10.0.0.1",
            &["198.51.100.7"],
            &["https"],
            ("198.51.100.7", true),
        );
        // CIDR, several hops, spoofed entries on the left are ignored.
        check(
            "10.0.0.0/8",
            "10.0.0.2",
            &["6.6.6.6, 198.51.100.7", "10.0.0.5"],
            &["http, https"],
            ("198.51.100.7", true),
        );
        // All hops trusted: the leftmost.
        check(
            "10.0.0.0/8",
            "10.0.0.2",
            &["10.1.1.1, 10.0.0.5"],
            &[],
            ("10.1.1.1", false),
        );
        // Garbage stops the walk at the last believable address.
        check(
            "10.0.0.0/8",
            "10.0.0.2",
            &["198.51.100.7, junk"],
            &[],
            ("10.0.0.2", false),
        );
        // Ports and brackets are fine; no header means the peer.
        check(
            "10.0.0.1",
            "10.0.0.1",
            &["[2001:db8::1]:443"],
            &[],
            ("2001:db8::1", false),
        );
        check(
            "10.0.0.1",
            "10.0.0.1",
            &["198.51.100.7:5555"],
            &[],
            ("198.51.100.7", false),
        );
        check("10.0.0.1", "10.0.0.1", &[], &[], ("10.0.0.1", false));
        // A dual-stack listener sees IPv4 peers as mapped IPv6.
        check(
            "127.0.0.1",
            "::ffff:127.0.0.1",
            &["198.51.100.7"],
            &[],
            ("198.51.100.7", false),
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = TrustedProxies::parse("10.0.0.1, 10.0.0.0/33").unwrap_err();
        assert!(err.contains("`10.0.0.0/33`"), "{err}");
        let err = TrustedProxies::parse("proxy.lan").unwrap_err();
        assert!(err.contains("`proxy.lan`"), "{err}");
        assert_eq!(
            TrustedProxies::parse(" , ").unwrap(),
            TrustedProxies::default()
        );
    }
}
