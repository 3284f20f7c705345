//! How EDK2 sorts the offers it hears and picks one.
//!
//! Classification follows `PxeBcParseDhcp4Packet` and caching `PxeBcCacheDhcp4Offer`
//! (NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c; firmware.md A.5); selection follows
//! `PxeBcSelectDhcp4Offer` in sorted mode, which `LoadFile` always uses (A.6).

use std::net::Ipv4Addr;

use netbootd::time::Instant;
use netbootd::wire::dhcp::{Message, OptionList};

/// `PXEBC_OFFER_MAX_NUM`: the cache holds at most 16 offers.
pub const MAX_CACHED_OFFERS: usize = 16;

/// `PXEBC_OFFER_TYPE`, minus the two WFM11a kinds, which EDK2 discards on arrival
/// ("multi-cast download is not supported").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OfferKind {
    DhcpOnly,
    DhcpPxe10,
    DhcpBinl,
    ProxyPxe10,
    ProxyBinl,
    /// A proxy reply of no PXE kind: dropped from the cache (but noticed).
    ProxyOnly,
    Bootp,
}

impl OfferKind {
    pub fn is_proxy(self) -> bool {
        matches!(
            self,
            OfferKind::ProxyPxe10 | OfferKind::ProxyBinl | OfferKind::ProxyOnly
        )
    }
}

/// An offer as EDK2 understood it.
#[derive(Debug, Clone)]
pub struct Offer {
    pub message: Message,
    pub kind: OfferKind,
    pub received_at: Instant,
    /// Option 67, else the `file` field (option 67 wins in EDK2, unlike iPXE).
    pub boot_file: Option<String>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Which PXE vendor sub-options (43.n) were present, indexed by n.
    pub vendor: Vec<u8>,
    /// PXE discovery control (43.6), 0 when absent.
    pub discovery_control: u8,
    /// The first item type of the PXE boot menu (43.9), if any.
    pub first_menu_type: Option<u16>,
}

/// Why an offer did not make it into the cache.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Discarded {
    /// All of 43.1–43.5: a WFM11a (multicast TFTP) offer.
    MulticastTftp,
    /// A BOOTP reply without a boot file, or not the first BOOTP reply.
    Bootp,
    /// A proxy offer of a kind EDK2 does not keep.
    Proxy,
    /// The cache already holds 16 offers.
    CacheFull,
}

fn ip(bytes: &[u8]) -> Option<Ipv4Addr> {
    let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

/// Classifies a reply that Dhcp4Dxe let through.
pub fn classify(message: Message, received_at: Instant) -> Result<Offer, Discarded> {
    let vendor_class = message.option(60);
    let is_pxe = vendor_class
        .as_deref()
        .is_some_and(|v| v.len() >= 9 && &v[..9] == b"PXEClient");
    let mut vendor = Vec::new();
    let mut discovery_control = 0;
    let mut first_menu_type = None;
    if is_pxe {
        if let Some(data) = message.option(43) {
            if let Ok(sub) = OptionList::decode(&data, 0) {
                vendor = sub.codes();
                discovery_control = sub.get(6).and_then(|v| v.first().copied()).unwrap_or(0);
                first_menu_type = sub
                    .get(9)
                    .filter(|v| v.len() >= 2)
                    .map(|v| u16::from_be_bytes([v[0], v[1]]));
            }
        }
    }
    let has = |n: u8| vendor.contains(&n);
    // `yiaddr.Addr[0] == 0`: EDK2 looks at the first octet only here.
    let proxy = message.yiaddr.octets()[0] == 0;
    let boot_file = message
        .option(67)
        .map(|v| {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        })
        .filter(|s| !s.is_empty())
        .or_else(|| message.file_name());
    let server_id = message.option(54).and_then(|v| ip(&v));
    let kind = match message.message_type() {
        None | Some(0) => OfferKind::Bootp,
        Some(_) if [6, 7, 8, 9, 10].iter().any(|&n| has(n)) => {
            if proxy {
                OfferKind::ProxyPxe10
            } else {
                OfferKind::DhcpPxe10
            }
        }
        Some(_) if (1..=5).all(has) => return Err(Discarded::MulticastTftp),
        Some(_) if is_pxe => {
            if proxy {
                OfferKind::ProxyBinl
            } else {
                OfferKind::DhcpBinl
            }
        }
        Some(_) if proxy => OfferKind::ProxyOnly,
        Some(_) => OfferKind::DhcpOnly,
    };
    Ok(Offer {
        message,
        kind,
        received_at,
        boot_file,
        server_id,
        vendor,
        discovery_control,
        first_menu_type,
    })
}

/// The offers cached so far (`Private->OfferBuffer`), in arrival order.
#[derive(Debug, Clone, Default)]
pub struct OfferCache {
    pub offers: Vec<Offer>,
    /// Some proxy reply was heard (`IsProxyRecved`), even if not kept.
    pub proxy_heard: bool,
}

impl OfferCache {
    /// `PxeBcCacheDhcp4Offer`: DHCP offers (yiaddr ≠ 0) are all kept, every ProxyBinl, only the
    /// first ProxyPxe10, the first BOOTP reply that has a boot file; the rest is dropped.
    pub fn insert(&mut self, offer: Offer) -> Result<(), Discarded> {
        if self.offers.len() >= MAX_CACHED_OFFERS {
            return Err(Discarded::CacheFull);
        }
        let whole_zero = offer.message.yiaddr.is_unspecified();
        match offer.kind {
            OfferKind::Bootp if offer.boot_file.is_none() || self.has(OfferKind::Bootp) => {
                return Err(Discarded::Bootp);
            }
            OfferKind::Bootp => {}
            kind if whole_zero || kind.is_proxy() => {
                self.proxy_heard = true;
                match kind {
                    OfferKind::ProxyBinl => {}
                    OfferKind::ProxyPxe10 if !self.has(OfferKind::ProxyPxe10) => {}
                    _ => return Err(Discarded::Proxy),
                }
            }
            _ => {}
        }
        self.offers.push(offer);
        Ok(())
    }

    fn has(&self, kind: OfferKind) -> bool {
        self.offers.iter().any(|o| o.kind == kind)
    }

    fn first(&self, kind: OfferKind) -> Option<usize> {
        self.offers.iter().position(|o| o.kind == kind)
    }
}

/// What `PxeBcSelectDhcp4Offer` chose: the offer to request, and the proxy offer (or offers,
/// for BINL) to use after the ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub offer: usize,
    pub proxy: Vec<usize>,
    /// Which rule of the eight picked it (1-based, as firmware.md A.6 numbers them).
    pub rule: u8,
}

/// The sorted-mode selection policy; `None` when nothing is acceptable yet (keep waiting).
pub fn select(cache: &OfferCache) -> Option<Selection> {
    use OfferKind::*;
    let pick = |offer: usize, proxy: Vec<usize>, rule: u8| Some(Selection { offer, proxy, rule });
    if let Some(i) = cache.first(DhcpPxe10) {
        return pick(i, vec![], 1);
    }
    let dhcp_only = cache.first(DhcpOnly);
    if let (Some(i), Some(p)) = (dhcp_only, cache.first(ProxyPxe10)) {
        return pick(i, vec![p], 3);
    }
    if let Some(i) = cache.first(DhcpBinl) {
        return pick(i, vec![], 5);
    }
    if let Some(i) = dhcp_only {
        let binl: Vec<usize> = (0..cache.offers.len())
            .filter(|&j| cache.offers[j].kind == ProxyBinl)
            .collect();
        if !binl.is_empty() {
            return pick(i, binl, 6);
        }
    }
    if let Some(i) = cache
        .offers
        .iter()
        .position(|o| o.kind == DhcpOnly && o.boot_file.is_some())
    {
        return pick(i, vec![], 7);
    }
    cache
        .offers
        .iter()
        .position(|o| o.kind == Bootp && o.boot_file.is_some())
        .and_then(|i| pick(i, vec![], 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(yiaddr: [u8; 4], options: &[(u8, &[u8])]) -> Message {
        let mut m = Message {
            op: 2,
            yiaddr: Ipv4Addr::from(yiaddr),
            ..Message::default()
        };
        m.options.push(53, &[2]);
        m.options.push(54, &[192, 168, 1, 1]);
        for (code, data) in options {
            m.options.push(*code, data);
        }
        m.options.end();
        m
    }

    fn cached(messages: Vec<Message>) -> OfferCache {
        let mut cache = OfferCache::default();
        for (i, m) in messages.into_iter().enumerate() {
            let _ = classify(m, Instant::from_millis(i as u64)).map(|o| cache.insert(o));
        }
        cache
    }

    #[test]
    fn a_plain_offer_with_a_boot_file_is_rule_7() {
        let cache = cached(vec![offer([192, 168, 1, 2], &[(67, b"ipxe.efi")])]);
        assert_eq!(cache.offers[0].kind, OfferKind::DhcpOnly);
        assert_eq!(select(&cache).unwrap().rule, 7);
    }

    #[test]
    fn a_plain_offer_without_boot_file_is_not_selectable() {
        let cache = cached(vec![offer([192, 168, 1, 2], &[])]);
        assert_eq!(select(&cache), None);
    }

    #[test]
    fn echoing_pxeclient_without_43_makes_a_binl_offer_that_wins() {
        // The 4011 trap (firmware.md A.6, OBSERVED capD).
        let cache = cached(vec![
            offer([192, 168, 1, 3], &[(67, b"ipxe.efi")]),
            offer([192, 168, 1, 2], &[(60, b"PXEClient")]),
        ]);
        assert_eq!(cache.offers[1].kind, OfferKind::DhcpBinl);
        let s = select(&cache).unwrap();
        assert_eq!((s.offer, s.rule), (1, 5));
    }

    #[test]
    fn option_67_beats_the_file_field() {
        let mut m = offer([192, 168, 1, 2], &[(67, b"from67")]);
        m.file[..8].copy_from_slice(b"fromfile");
        let o = classify(m, Instant::ZERO).unwrap();
        assert_eq!(o.boot_file.as_deref(), Some("from67"));
    }

    #[test]
    fn proxy_pxe10_pairs_with_the_first_dhcp_only_offer() {
        let cache = cached(vec![
            offer([192, 168, 1, 2], &[]),
            offer([0, 0, 0, 0], &[(60, b"PXEClient"), (43, &[6, 1, 8, 255])]),
        ]);
        assert_eq!(cache.offers[1].kind, OfferKind::ProxyPxe10);
        let s = select(&cache).unwrap();
        assert_eq!((s.offer, s.proxy.clone(), s.rule), (0, vec![1], 3));
    }

    #[test]
    fn multicast_offers_are_discarded() {
        let all5 = [
            1, 4, 0, 0, 0, 0, 2, 2, 0, 0, 3, 2, 0, 0, 4, 1, 0, 5, 1, 0, 255,
        ];
        let m = offer([192, 168, 1, 2], &[(60, b"PXEClient"), (43, &all5)]);
        assert_eq!(
            classify(m, Instant::ZERO).unwrap_err(),
            Discarded::MulticastTftp
        );
    }
}
