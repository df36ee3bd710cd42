//! IP addresses and `cidr` blocks as EventBridge reads them: an IPv4 address is four dotted
//! decimal numbers, an IPv6 address is hex digits and colons (no embedded dotted quad, no zone),
//! and an IPv4-mapped IPv6 address (`::ffff:a00:1`) is the IPv4 address it maps.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An address: its family and its bits (IPv4 in the low 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ip {
    v6: bool,
    bits: u128,
}

impl Ip {
    pub(super) fn parse(text: &str) -> Option<Ip> {
        let v4 = |addr: Ipv4Addr| Ip {
            v6: false,
            bits: u128::from(u32::from(addr)),
        };
        if is_dotted_quad(text) {
            return text.parse::<Ipv4Addr>().ok().map(v4);
        }
        if text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()) {
            let addr = text.parse::<Ipv6Addr>().ok()?;
            return Some(match addr.to_ipv4_mapped() {
                Some(mapped) => v4(mapped),
                None => Ip {
                    v6: true,
                    bits: u128::from(addr),
                },
            });
        }
        None
    }

    fn width(self) -> u32 {
        if self.v6 { 128 } else { 32 }
    }
}

fn is_dotted_quad(text: &str) -> bool {
    let mut parts = 0;
    for part in text.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        parts += 1;
    }
    parts == 4
}

/// A `cidr` block: the addresses whose leading `len` bits equal the block's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cidr {
    base: Ip,
    mask: u128,
}

pub(super) const CIDR_RULE: &str = "`cidr` takes a block such as \"10.0.0.0/24\" or \"2001:db8::/32\": an IPv4 address with a mask of 0 to 31 bits, or an IPv6 address with a mask of 0 to 127 bits (a single address is matched by its exact value)";

impl Cidr {
    pub(super) fn parse(text: &str) -> Option<Cidr> {
        let (address, len) = text.split_once('/')?;
        let base = Ip::parse(address)?;
        // EventBridge refuses /32 and /128: a block of one address is written as the address.
        let len: u32 = len.parse().ok().filter(|len| *len < base.width())?;
        let host_bits = base.width() - len;
        let host = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        Some(Cidr { base, mask: !host })
    }

    pub(super) fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.base.v6 && (ip.bits ^ self.base.bits) & self.mask == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn within(cidr: &str, ip: &str) -> bool {
        Cidr::parse(cidr).unwrap().contains(Ip::parse(ip).unwrap())
    }

    #[test]
    fn addresses() {
        assert!(Ip::parse("10.0.0.255").is_some());
        assert!(Ip::parse("10.0.0.256").is_none());
        assert!(Ip::parse("010.0.0.1").is_none(), "ambiguous leading zero");
        assert!(Ip::parse("10.0.0").is_none());
        assert!(Ip::parse("2001:0db8:1234:1a00:0000:0000:0000:0000").is_some());
        assert!(
            Ip::parse("::ffff:1.2.3.4").is_none(),
            "dotted quad inside IPv6"
        );
        assert!(Ip::parse("fe80::1%eth0").is_none());
        assert_eq!(Ip::parse("::ffff:a00:1"), Ip::parse("10.0.0.1"));
        assert!(Ip::parse("host.example").is_none());
    }

    #[test]
    fn blocks() {
        assert!(within("10.0.0.0/24", "10.0.0.255"));
        assert!(!within("10.0.0.0/24", "10.0.1.0"));
        assert!(within("10.0.0.77/24", "10.0.0.1"), "host bits are ignored");
        assert!(within("0.0.0.0/0", "255.255.255.255"));
        assert!(!within("0.0.0.0/0", "::1"), "families never mix");
        assert!(within(
            "2001:db8:1234:1a00::/64",
            "2001:db8:1234:1a00:ffff::1"
        ));
        assert!(!within("2001:db8:1234:1a00::/64", "2001:db8:123f:1a01::"));
        assert!(within("::/0", "ffff::"));
        for bad in [
            "10.0.0.0/32",
            "::/128",
            "10.0.0.0",
            "10.0.0.0/-1",
            "10.0.0.0/x",
            "10.0.0.0/24/1",
            "bad-filter",
            "xx.11.xx/8",
            "xxxx:db8:1234:1a00::/64",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}
