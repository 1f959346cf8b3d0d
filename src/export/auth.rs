//! HTTP basic authentication against the web config's `basic_auth_users` (user: bcrypt hash).
//!
//! bcrypt costs tens of milliseconds by design, so a verification runs on the blocking pool,
//! at most [`VERIFIERS`] at once (so a flood of wrong passwords cannot take the threads the
//! collectors need), and a success is remembered: per user, a SHA-256 of the credentials
//! and the hash they matched, compared in constant time. A Prometheus scraping every second
//! pays bcrypt once, not every second. An unknown user is checked against a dummy hash, so
//! the time taken does not tell which user names exist.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use axum::http::HeaderValue;
use base64::Engine as _;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

/// bcrypt verifications running at once; the rest wait their turn (within the request
/// timeout).
pub const VERIFIERS: usize = 2;

/// The cost `vitals hash-password` uses unless told otherwise (bcrypt's default).
pub const DEFAULT_COST: u32 = bcrypt::DEFAULT_COST;

/// A bcrypt hash of a random password nobody knows, verified for unknown users.
const DUMMY_HASH: &str = "$2b$10$naZWZUZL/xK/1EEVFoQ45eZLByi1Nz.yKipR8eJ1rM7BC1DScbR8G";

/// Checks that a `basic_auth_users` value is a bcrypt hash.
pub fn check_hash(hash: &str) -> Result<(), String> {
    hash.parse::<bcrypt::HashParts>()
        .map(|_| ())
        .map_err(|_| "not a bcrypt hash ($2a$, $2b$ or $2y$)".to_string())
}

/// A bcrypt hash of `password` for `basic_auth_users`.
pub fn hash_password(password: &[u8], cost: u32) -> Result<String, String> {
    bcrypt::hash(password, cost).map_err(|e| e.to_string())
}

struct User {
    hash: String,
    /// SHA-256 of the last credentials that verified against `hash`.
    verified: Mutex<Option<[u8; 32]>>,
}

pub struct BasicAuth {
    users: HashMap<String, User>,
    verifiers: Semaphore,
}

impl BasicAuth {
    pub fn new(users: &BTreeMap<String, String>) -> Result<BasicAuth, String> {
        let users = users
            .iter()
            .map(|(name, hash)| {
                check_hash(hash).map_err(|e| format!("basic_auth_users.{name}: {e}"))?;
                Ok((
                    name.clone(),
                    User {
                        hash: hash.clone(),
                        verified: Mutex::new(None),
                    },
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(BasicAuth {
            users,
            verifiers: Semaphore::new(VERIFIERS),
        })
    }

    /// True when the `Authorization` header names a user and their password.
    pub async fn verify(&self, header: Option<&HeaderValue>) -> bool {
        let Some((name, password)) = header.and_then(|h| parse_basic(h.as_bytes())) else {
            return false;
        };
        let user = self.users.get(&name);
        let hash = user.map_or(DUMMY_HASH, |u| u.hash.as_str()).to_string();
        let digest = digest(&name, &password, &hash);
        if let Some(u) = user
            && let Some(seen) = *u.verified.lock().unwrap_or_else(|e| e.into_inner())
            && bool::from(seen.ct_eq(&digest))
        {
            return true;
        }
        let Ok(_permit) = self.verifiers.acquire().await else {
            return false;
        };
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        match user {
            Some(u) if matches => {
                *u.verified.lock().unwrap_or_else(|e| e.into_inner()) = Some(digest);
                true
            }
            _ => false,
        }
    }
}

fn digest(name: &str, password: &[u8], hash: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [name.as_bytes(), password, hash.as_bytes()] {
        ctx.update(&(part.len() as u64).to_le_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The user name and password of a `Basic` Authorization header. The password is bytes: a
/// client may send any.
pub fn parse_basic(header: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let name = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((name, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {b64}")).unwrap()
    }

    #[test]
    fn the_dummy_hash_is_a_bcrypt_hash() {
        check_hash(DUMMY_HASH).unwrap();
    }

    #[test]
    fn headers_are_parsed_strictly() {
        assert_eq!(
            parse_basic(header("alice", "a:b").as_bytes()),
            Some(("alice".to_string(), b"a:b".to_vec()))
        );
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer YWxpY2U6cHc=",
            "Basic YWxpY2U=",
        ] {
            assert_eq!(parse_basic(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn right_wrong_and_unknown_credentials() {
        let hash = hash_password(b"secret", 4).unwrap();
        let auth = BasicAuth::new(&BTreeMap::from([("alice".to_string(), hash)])).unwrap();
        assert!(auth.verify(Some(&header("alice", "secret"))).await);
        // From the cache now, and still exact.
        assert!(auth.verify(Some(&header("alice", "secret"))).await);
        assert!(!auth.verify(Some(&header("alice", "secreT"))).await);
        assert!(!auth.verify(Some(&header("bob", "secret"))).await);
        assert!(!auth.verify(None).await);
    }

    #[test]
    fn hashes_are_checked() {
        assert!(BasicAuth::new(&BTreeMap::from([("a".to_string(), "x".to_string())])).is_err());
    }
}
