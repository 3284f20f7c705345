//! iPXE's settings as a script sees them through `${...}`: what `set` stored (the global
//! block, searched first), the DHCPACK (`net0.dhcp`, numeric tags too: `${12}`,
//! `${175.3}`), the NIC (`mac`, `busid`), SMBIOS (`uuid`) and the build (`platform`,
//! `buildarch`). src/core/settings.c, src/net/netdev_settings.c, firmware.md B.8.

use netbootd::wire::MacAddr;
use std::collections::BTreeMap;

use super::dhcp::Lease;
use super::packets::Build;
use super::script::{setting_name, Value};

#[derive(Debug, Clone)]
pub struct Settings {
    pub build: Build,
    pub mac: MacAddr,
    pub uuid: Option<[u8; 16]>,
    pub lease: Option<Lease>,
    /// `set` values, by name.
    pub user: BTreeMap<String, String>,
}

impl Settings {
    pub fn new(build: Build, mac: MacAddr, uuid: Option<[u8; 16]>) -> Settings {
        Settings {
            build,
            mac,
            uuid,
            lease: None,
            user: BTreeMap::new(),
        }
    }

    fn lease_value(&self, name: &str) -> Option<Value> {
        let lease = self.lease.as_ref()?;
        let ip = |a: std::net::Ipv4Addr| Value::Ipv4(a.octets());
        Some(match name {
            "ip" => ip(lease.address),
            "netmask" => ip(lease.netmask()?),
            "gateway" => ip(lease.gateway()?),
            "next-server" => ip(lease.next_server()?),
            "filename" => Value::Text(lease.filename()?),
            "dhcp-server" => ip(lease.server),
            "dns" => Value::Ipv4(lease.ack.option(6)?.get(..4)?.try_into().ok()?),
            "hostname" => Value::Text(String::from_utf8_lossy(&lease.ack.option(12)?).into()),
            "domain" => Value::Text(String::from_utf8_lossy(&lease.ack.option(15)?).into()),
            "root-path" => Value::Text(String::from_utf8_lossy(&lease.ack.option(17)?).into()),
            _ => return self.numeric(name),
        })
    }

    /// `${12}` or `${175.3}`: a DHCP option (or encapsulated option) by number.
    fn numeric(&self, name: &str) -> Option<Value> {
        let lease = self.lease.as_ref()?;
        let mut parts = name.split('.');
        let code: u8 = parts.next()?.parse().ok()?;
        let mut data = lease.ack.option(code)?;
        for sub in parts {
            let sub: u8 = sub.parse().ok()?;
            let mut i = 0;
            let mut found = None;
            while i + 1 < data.len() {
                let (tag, len) = (data[i], data[i + 1] as usize);
                if tag == sub {
                    found = data.get(i + 2..i + 2 + len).map(|s| s.to_vec());
                    break;
                }
                i += 2 + len;
            }
            data = found?;
        }
        Some(Value::Bytes(data))
    }

    /// The value of `[block/]name`, if any.
    pub fn value(&self, block: Option<&str>, name: &str) -> Option<Value> {
        let global = block.is_none();
        if global {
            if let Some(v) = self.user.get(name) {
                return Some(Value::Text(v.clone()));
            }
        }
        let net = global || matches!(block, Some("net0" | "net0.dhcp" | "netX" | "netX.dhcp"));
        if net {
            match name {
                "mac" => return Some(Value::Bytes(self.mac.as_bytes().to_vec())),
                "user-class" => return Some(Value::Text("iPXE".into())),
                _ => {}
            }
            if let Some(v) = self.lease_value(name) {
                return Some(v);
            }
        }
        if (global || block == Some("smbios")) && name == "uuid" {
            return self.uuid.map(Value::Uuid);
        }
        if global {
            return Some(match name {
                "platform" => Value::Text(self.build.platform().into()),
                "buildarch" => Value::Text(self.build.buildarch().into()),
                "version" => Value::Text("1.21.1+".into()),
                "product" => Value::Text("ipxe.org".into()),
                _ => return None,
            });
        }
        None
    }

    /// What `${inner}` expands to.
    pub fn expand_one(&self, inner: &str) -> String {
        let n = setting_name(inner);
        self.value(n.block, n.name)
            .map(|v| v.format(n.kind))
            .unwrap_or_default()
    }
}
