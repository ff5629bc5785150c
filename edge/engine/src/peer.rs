//! The client's address: the TCP peer, or, when the peer is a trusted proxy
//! (`edge.trusted_proxies`), the address it appended to `X-Forwarded-For`.

use std::net::IpAddr;

/// Addresses and networks (`10.0.0.0/8`, `::1`) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX` entries; the error names the bad one.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut out = Vec::with_capacity(list.len());
        for entry in list {
            let bad = || format!("{entry:?} is not an address or a network like 10.0.0.0/8");
            let (addr, prefix) = match entry.trim().split_once('/') {
                Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
                None => (entry.trim(), None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err(bad());
            }
            out.push((addr, prefix));
        }
        Ok(TrustedProxies(out))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0
            .iter()
            .any(|&(net, prefix)| in_network(ip, net, prefix))
    }

    /// The client's address for a request from `peer` with these `X-Forwarded-For` values: the
    /// right-most address not of a trusted proxy (the peer itself when it is not trusted).
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a [u8]>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let values: Vec<&[u8]> = forwarded.collect();
        let mut client = peer;
        for value in values.iter().rev() {
            let Ok(text) = std::str::from_utf8(value) else {
                return client;
            };
            for part in text.rsplit(',') {
                let Ok(ip) = part.trim().parse::<IpAddr>() else {
                    return client;
                };
                client = ip;
                if !self.trusts(ip) {
                    return ip;
                }
            }
        }
        client
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let bits = |ip: IpAddr| -> (u128, u32) {
        match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or((u128::from(v6), 128), |v4| (u128::from(u32::from(v4)), 32)),
        }
    };
    let ((a, a_len), (n, n_len)) = (bits(ip), bits(net));
    if a_len != n_len {
        return false;
    }
    let shift = n_len - u32::from(prefix).min(n_len);
    a.checked_shr(shift).unwrap_or(0) == n.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_are_believed() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        let xff: [&[u8]; 1] = [b"203.0.113.7, 10.1.2.3"];
        assert_eq!(
            t.client_ip(ip("10.9.9.9"), xff.into_iter()),
            ip("203.0.113.7")
        );
        assert_eq!(t.client_ip(ip("::1"), xff.into_iter()), ip("203.0.113.7"));
        assert_eq!(
            t.client_ip(ip("192.0.2.1"), xff.into_iter()),
            ip("192.0.2.1")
        );
        let spoofed: [&[u8]; 1] = [b"1.1.1.1, 198.51.100.2"];
        assert_eq!(
            t.client_ip(ip("10.0.0.1"), spoofed.into_iter()),
            ip("198.51.100.2"),
            "the right-most untrusted address, not what the client claimed"
        );
        assert_eq!(
            t.client_ip(ip("10.0.0.1"), std::iter::empty()),
            ip("10.0.0.1")
        );
        let junk: [&[u8]; 1] = [b"nonsense"];
        assert_eq!(
            t.client_ip(ip("10.0.0.1"), junk.into_iter()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.0/x", "::1/129"] {
            assert!(TrustedProxies::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse(&[]).unwrap().0.is_empty());
    }
}
