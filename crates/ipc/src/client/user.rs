//! Who the client says it is (SIMPLE auth) and its client id.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable that overrides the user name, as in Hadoop.
pub const HADOOP_USER_NAME: &str = "HADOOP_USER_NAME";
/// Used when nothing names the user.
const UNKNOWN_USER: &str = "nobody";

/// The user name SIMPLE auth sends: `HADOOP_USER_NAME` if set, else the name of the
/// process's uid (what Hadoop's Java client, colinmarc/hdfs and hdfs-native use), else
/// `USER`, else `LOGNAME` (for a uid missing from `/etc/passwd`, as in containers).
pub fn current_user() -> String {
    resolve_user(|key| std::env::var(key).ok(), uid_name)
}

fn resolve_user(
    env: impl Fn(&str) -> Option<String>,
    uid_name: impl FnOnce() -> Option<String>,
) -> String {
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    non_empty(env(HADOOP_USER_NAME))
        .or_else(|| non_empty(uid_name()))
        .or_else(|| non_empty(env("USER")))
        .or_else(|| non_empty(env("LOGNAME")))
        .unwrap_or_else(|| UNKNOWN_USER.to_owned())
}

/// The name of this process's real uid, from `/proc/self/status` and `/etc/passwd`.
fn uid_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    name_of_uid(&status, &passwd)
}

fn name_of_uid(status: &str, passwd: &str) -> Option<String> {
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        (fields.next()? == uid).then(|| name.to_owned())
    })
}

/// A fresh 16-byte client id shaped like the random UUID Hadoop's client sends
/// (version 4, RFC 4122 variant), seeded from the OS through `RandomState`.
pub fn random_client_id() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut id = [0u8; 16];
    for (half, chunk) in id.chunks_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_usize(half);
        chunk.copy_from_slice(&hasher.finish().to_be_bytes());
    }
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn hadoop_user_name_wins_then_uid_then_user_then_logname() {
        let all = [
            ("HADOOP_USER_NAME", "hdfs"),
            ("USER", "u"),
            ("LOGNAME", "l"),
        ];
        assert_eq!(resolve_user(env_of(&all), || Some("uid".into())), "hdfs");
        let no_hadoop = [("USER", "u"), ("LOGNAME", "l")];
        assert_eq!(
            resolve_user(env_of(&no_hadoop), || Some("uid".into())),
            "uid"
        );
        assert_eq!(resolve_user(env_of(&no_hadoop), || None), "u");
        assert_eq!(resolve_user(env_of(&[("LOGNAME", "l")]), || None), "l");
        assert_eq!(
            resolve_user(env_of(&[("HADOOP_USER_NAME", " ")]), || None),
            "nobody"
        );
    }

    #[test]
    fn uid_is_looked_up_in_passwd() {
        let status = "Name:\tcat\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\n";
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n";
        assert_eq!(name_of_uid(status, passwd).as_deref(), Some("alice"));
        assert_eq!(name_of_uid("Uid:\t4242\t0\n", passwd), None);
        assert_eq!(name_of_uid("Gid:\t1\n", passwd), None);
    }

    #[test]
    fn the_process_has_a_user() {
        assert!(!current_user().is_empty());
    }

    #[test]
    fn client_ids_differ_and_look_like_uuid_v4() {
        let a = random_client_id();
        let b = random_client_id();
        assert_ne!(a, b);
        assert_eq!(a[6] >> 4, 4);
        assert_eq!(a[8] >> 6, 0b10);
    }
}
