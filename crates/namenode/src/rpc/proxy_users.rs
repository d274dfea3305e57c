//! Proxy users (Hadoop's `ProxyUsers` with `DefaultImpersonationProvider`): a connection
//! whose context names a real user different from its effective user acts for that
//! effective user only if `hadoop.proxyuser.<real user>.*` allows it.
//!
//! * `hadoop.proxyuser.<u>.users` / `.groups`: whom `<u>` may impersonate — a user in the
//!   list, or a user in one of the groups; `*` in either allows everyone.
//! * `hadoop.proxyuser.<u>.hosts`: from where — IPs, IPv4 CIDR ranges, host names
//!   (resolved when read), or `*`.
//!
//! Refusals are Hadoop's `AuthorizationException` with its messages ("User: X is not
//! allowed to impersonate Y", "Unauthorized connection for super-user: X from IP Z").
//! Without any configuration every impersonation is refused.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, ToSocketAddrs};

use ferrodfs_conf::Configuration;
use ferrodfs_ipc::server::CallContext;

use super::CallInfo;
use crate::error::Error;

/// `hadoop.proxyuser.`: the prefix of the proxy-user keys.
pub const PROXYUSER_PREFIX: &str = "hadoop.proxyuser.";
const USERS: &str = ".users";
const GROUPS: &str = ".groups";
const HOSTS: &str = ".hosts";
const WILDCARD: &str = "*";

/// Hadoop's `AccessControlList` over a users list and a groups list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Acl {
    all: bool,
    users: HashSet<String>,
    groups: HashSet<String>,
}

impl Acl {
    fn allows(&self, user: &str, groups: &[String]) -> bool {
        self.all || self.users.contains(user) || groups.iter().any(|g| self.groups.contains(g))
    }
}

/// Hadoop's `MachineList`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct MachineList {
    all: bool,
    ips: HashSet<IpAddr>,
    /// IPv4 ranges: (network, prefix length).
    cidrs: Vec<(u32, u32)>,
}

impl MachineList {
    fn parse(value: &str) -> MachineList {
        let mut m = MachineList::default();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == WILDCARD {
                m.all = true;
            } else if let Some((net, bits)) = entry.split_once('/') {
                if let (Ok(std::net::IpAddr::V4(net)), Ok(bits)) =
                    (net.parse::<IpAddr>(), bits.parse::<u32>())
                {
                    if bits <= 32 {
                        m.cidrs.push((u32::from(net), bits));
                    }
                }
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                m.ips.insert(ip);
            } else if let Ok(addrs) = (entry, 0).to_socket_addrs() {
                m.ips.extend(addrs.map(|a| a.ip()));
            }
        }
        m
    }

    fn includes(&self, ip: IpAddr) -> bool {
        if self.all || self.ips.contains(&ip) {
            return true;
        }
        let IpAddr::V4(v4) = ip else {
            return false;
        };
        let ip = u32::from(v4);
        self.cidrs.iter().any(|&(net, bits)| {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            ip & mask == net & mask
        })
    }
}

/// The proxy-user rules of one NameNode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyUsers {
    acls: HashMap<String, Acl>,
    hosts: HashMap<String, MachineList>,
}

fn list(value: &str) -> HashSet<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ProxyUsers {
    /// The rules from `hadoop.proxyuser.*` values looked up by key among `keys`.
    pub fn from_lookup<'a>(
        keys: impl Iterator<Item = &'a str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> ProxyUsers {
        let mut p = ProxyUsers::default();
        for key in keys {
            let Some(rest) = key.strip_prefix(PROXYUSER_PREFIX) else {
                continue;
            };
            let Some(value) = lookup(key) else {
                continue;
            };
            if let Some(user) = rest.strip_suffix(HOSTS) {
                p.hosts.insert(user.to_owned(), MachineList::parse(&value));
                continue;
            }
            let (user, is_users) = match (rest.strip_suffix(USERS), rest.strip_suffix(GROUPS)) {
                (Some(u), _) => (u, true),
                (_, Some(u)) => (u, false),
                _ => continue,
            };
            let acl = p.acls.entry(user.to_owned()).or_default();
            let entries = list(&value);
            if entries.contains(WILDCARD) {
                acl.all = true;
            }
            if is_users {
                acl.users.extend(entries);
            } else {
                acl.groups.extend(entries);
            }
        }
        p
    }

    /// The rules of a loaded configuration.
    pub fn from_conf(conf: &Configuration) -> ProxyUsers {
        let keys: Vec<String> = conf
            .keys()
            .filter(|k| k.starts_with(PROXYUSER_PREFIX))
            .map(str::to_owned)
            .collect();
        ProxyUsers::from_lookup(keys.iter().map(String::as_str), |k| {
            conf.get(k).ok().flatten()
        })
    }

    /// Hadoop's `ProxyUsers.authorize`: may `real_user` at `ip` act as `user` (whose
    /// groups are `groups`)?
    pub fn authorize(
        &self,
        real_user: &str,
        user: &str,
        groups: &[String],
        ip: IpAddr,
    ) -> Result<(), Error> {
        if !self
            .acls
            .get(real_user)
            .is_some_and(|acl| acl.allows(user, groups))
        {
            return Err(Error::Authorization {
                message: format!("User: {real_user} is not allowed to impersonate {user}"),
            });
        }
        if !self.hosts.get(real_user).is_some_and(|m| m.includes(ip)) {
            return Err(Error::Authorization {
                message: format!(
                    "Unauthorized connection for super-user: {real_user} from IP {ip}"
                ),
            });
        }
        Ok(())
    }

    /// The caller of one RPC: the effective user, once an impersonating connection is
    /// found allowed. `groups` gives a user's groups.
    pub fn authorize_call(
        &self,
        ctx: &CallContext,
        groups: impl Fn(&str) -> Vec<String>,
    ) -> Result<CallInfo, Error> {
        if let Some(real) = ctx.real_user.as_deref().filter(|r| *r != ctx.user) {
            self.authorize(real, &ctx.user, &groups(&ctx.user), ctx.remote_addr.ip())?;
        }
        Ok(CallInfo::from(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn rules(kv: &[(&str, &str)]) -> ProxyUsers {
        let m: HashMap<&str, &str> = kv.iter().copied().collect();
        ProxyUsers::from_lookup(m.keys().copied(), |k| m.get(k).map(|v| v.to_string()))
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn users_groups_hosts_and_wildcards() {
        let p = rules(&[
            ("hadoop.proxyuser.oozie.users", "alice, bob"),
            ("hadoop.proxyuser.oozie.groups", "staff"),
            ("hadoop.proxyuser.oozie.hosts", "10.0.0.0/8,127.0.0.1"),
            ("hadoop.proxyuser.hue.groups", "*"),
            ("hadoop.proxyuser.hue.hosts", "*"),
            ("hadoop.proxyuser.nohosts.users", "*"),
        ]);
        assert!(p.authorize("oozie", "alice", &[], LOCAL).is_ok());
        assert!(p
            .authorize(
                "oozie",
                "carol",
                &["staff".into()],
                "10.1.2.3".parse().unwrap()
            )
            .is_ok());
        let e = p.authorize("oozie", "carol", &[], LOCAL).unwrap_err();
        assert_eq!(
            e.to_string(),
            "User: oozie is not allowed to impersonate carol"
        );
        assert_eq!(
            e.java_class(),
            "org.apache.hadoop.security.authorize.AuthorizationException"
        );
        let e = p
            .authorize("oozie", "alice", &[], "192.168.1.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unauthorized connection for super-user: oozie from IP 192.168.1.1"
        );
        assert!(p
            .authorize("hue", "anyone", &[], "8.8.8.8".parse().unwrap())
            .is_ok());
        assert!(p.authorize("nohosts", "x", &[], LOCAL).is_err());
        assert!(p.authorize("mallory", "x", &[], LOCAL).is_err());
        assert!(ProxyUsers::default()
            .authorize("root", "x", &[], LOCAL)
            .is_err());
    }
}
